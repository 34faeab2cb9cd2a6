"""CPU each long-running process spends importing its code, with Python's collector running as it does by default and
held as `gateway` holds it (gateway/kit/collector_held.py): what a replacement of a frozen process, and every
process `gateway run` starts, waits for before it serves.

    python -m bench.start_up [--runs 8]

Each run is a new interpreter importing what the command imports (its module's code compiled already), the two ways
alternating; the figures are each way's least and median user+system CPU over the runs (the least is the one a busy
machine disturbs least).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys

from bench.harness import print_report, record

# The code `gateway web`, `gateway worker` and `gateway run` import before they start (assembly/commands/processes.py),
# and what a web process imports for its bot (channels/telegram/webhook.py).
PROCESSES = {"web": "assembly.web.app", "worker": "assembly.worker.rq_worker",
             "supervisor": "assembly.machine.supervisor",
             "a web process's Telegram bot (aiogram, at its first update)": "channels.telegram.bot"}
RUNNING = "import {module}"
HELD = ("from gateway.kit.collector_held import collector_held\n"
        "with collector_held():\n    import {module}")


def cpu_of(code: str) -> float:
    """User and system CPU seconds of a new interpreter running `code`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(runs: int) -> dict[str, str]:
    figures = {"load average before": " ".join(f"{load:.2f}" for load in os.getloadavg())}
    for name, module in PROCESSES.items():
        cpu_of(RUNNING.format(module=module))  # its modules compiled, the files in the page cache
        running, held = [], []
        for _ in range(runs):
            running.append(cpu_of(RUNNING.format(module=module)))
            held.append(cpu_of(HELD.format(module=module)))
        figures[name] = (f"collector running {min(running):.2f} s (median {statistics.median(running):.2f}), "
                         f"held {min(held):.2f} s (median {statistics.median(held):.2f})")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=8)
    args = parser.parse_args()
    record("start_up", print_report(f"Start-up imports' CPU ({args.runs} runs each way)", measure(args.runs)))


if __name__ == "__main__":
    main()
