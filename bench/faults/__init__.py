"""Fault scenarios that need real processes and minutes: run with `python -m bench.faults`."""
