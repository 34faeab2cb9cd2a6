"""`gateway rehearse` against the whole stack started here (as `gateway run` starts it), its verdict recorded.

    python -m bench.rehearsal [--peak 200] [--minutes 10] [--viewers 10] [--workers 4] [--no-record]

The rehearsal itself drives any running installation (docs/commands.md); this only gives it
one on this machine and keeps its printout in RESULTS.md with the machine's description.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from bench.harness import ROOT, cpu_seconds, machine_cpu_seconds, machine_share, print_report, record, running_stack


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg()) + " (1, 5, 15 min)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peak", type=float, default=200)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--viewers", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4, help="RQ workers the stack runs (`GATEWAY_WORKER_PROCESSES`)")
    parser.add_argument("--no-record", action="store_true", help="print the figures only, not into RESULTS.md")
    parser.add_argument("--section", default="rehearsal", help="its section of RESULTS.md (a search's run)")
    args = parser.parse_args()
    with running_stack(worker_processes=args.workers) as stack:
        env = {**os.environ, "DATABASE_URL": stack.database_url, "REDIS_URL": stack.redis_url}
        load_before, machine_before, stack_before, started = (load_average(), machine_cpu_seconds(),
                                                               cpu_seconds(stack), time.monotonic())
        result = subprocess.run([sys.executable, "-m", "assembly.cli", "rehearse", "--url", stack.base_url,
                                 "--peak", str(args.peak), "--minutes", str(args.minutes),
                                 "--viewers", str(args.viewers)], env=env, cwd=ROOT, capture_output=True, text=True)
        # The rehearsal (this process's child, reaped) counts as the stack's load, the rest as the neighbours'.
        others = machine_share(machine_before, stack_before, cpu_seconds(stack), time.monotonic() - started)
    print(result.stderr, file=sys.stderr, end="")
    lines = result.stdout.strip().splitlines()
    figures = {f"{n:02d}": line for n, line in enumerate(lines, 1)} or {"01": f"no output (exit {result.returncode})"}
    figures["load"] = f"load average before it: {load_before} (line 02: at its end)"
    figures["others"] = f"CPU used by processes outside the stack and the rehearsal: {others}"
    workers = "" if args.workers == 4 else f", {args.workers} workers"
    report = print_report(f"rehearsal: {args.peak:g} votes/s peak, 150% offered for {args.minutes:g} min{workers} "
                          f"(exit {result.returncode})", figures)
    if not args.no_record:
        record(args.section, report)


if __name__ == "__main__":
    main()
