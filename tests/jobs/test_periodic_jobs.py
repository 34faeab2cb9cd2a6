"""Every job the worker schedules names a function that exists: a misspelt one would fail only when RQ ran it."""

from __future__ import annotations

import importlib

from assembly.worker import PERIODIC_JOBS


def test_every_periodic_job_names_a_function() -> None:
    names = [job.function for job in PERIODIC_JOBS]
    assert "assembly.worker_jobs.payouts_job" in names and "assembly.worker_jobs.money_check_job" in names
    for name in names:
        module, function = name.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), function, None)), name
