"""1,000 concurrent USSD sessions each walking `1*07*5*1*1` against the whole stack.

    python -m bench.ussd [--sessions 1000] [--ramp 30] [--think 2]

Real sessions arrive over time and wait seconds between screens (a person reads and types);
`--ramp`/`--think` model that. With both at 0, every session hits every screen at the same
instant, the worst case. Target: per-hop p99 < 50 ms with zero errors.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.harness import (
    cpu_seconds,
    loop_stalls,
    machine_cpu_seconds,
    machine_share,
    print_report,
    record,
    running_stack,
)
from bench.ussd_load import Pace, run_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--ramp", type=float, default=30.0, help="spread session starts over this many seconds")
    parser.add_argument("--think", type=float, default=2.0, help="mean seconds between a screen and the next input")
    args = parser.parse_args()
    with running_stack() as stack:
        machine, stack_cpu, started = machine_cpu_seconds(), cpu_seconds(stack), time.monotonic()
        report = asyncio.run(run_load(stack.base_url, args.sessions, pace=Pace(args.ramp, args.think)))
        others = machine_share(machine, stack_cpu, cpu_seconds(stack), time.monotonic() - started)
        stalls = loop_stalls(stack)
    figures = report.figures()
    figures["event-loop stalls (web processes)"] = stalls
    figures["other work on the machine during the run"] = others
    figures["target"] = "per-hop p99 < 50 ms, zero errors"
    record("ussd", print_report("ussd: concurrent sessions walking 1*07*5*1*1", figures))


if __name__ == "__main__":
    main()
