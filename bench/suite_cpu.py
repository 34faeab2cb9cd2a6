"""Where the test suite's time goes: the CPU of each test file, in the tests' own processes and in what they started.

The suite must take under 6 minutes a mode, and on two cores it is bound by them: its wall time is the CPU it spends
over the cores it has. This runs pytest as `make test` does (the whole suite, or the arguments given after `--`) with
itself as a plugin (`-p bench.suite_cpu`), which reads around each test (its set-up and tear-down included) the
CPU of its process, the CPU of the child processes it reaped (the services, servers and tools it started and stopped:
one left running until a later test is counted there) and its wall time; then prints the totals, how busy the cores
were, and the test files that cost the most.

    python -m bench.suite_cpu [--top 25] [--no-record] [-- pytest arguments]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import pytest

from assembly.cpu.processes import machine_cpu_seconds
from bench.harness import ROOT, print_report, record

ROWS_FOLDER = "SUITE_CPU_ROWS"  # where each pytest process writes its tests' rows


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    folder = os.environ.get(ROWS_FOLDER)
    own, children, wall = time.process_time(), _children_cpu(), time.monotonic()
    yield
    if folder:
        row = (f"{time.process_time() - own:.4f}\t{_children_cpu() - children:.4f}\t{time.monotonic() - wall:.4f}\t"
               f"{item.nodeid}\n")
        with open(Path(folder) / f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.tsv", "a") as rows:
            rows.write(row)


@dataclass
class FileCost:
    tests: int = 0
    own: float = 0.0  # CPU seconds in the tests' processes
    children: float = 0.0  # CPU seconds of the child processes reaped meanwhile
    wall: float = 0.0


def run_suite(pytest_args: list[str], folder: Path) -> tuple[int, float, float, float]:
    """pytest's exit code, its wall seconds, and the cores' busy and total seconds meanwhile."""
    busy_before, began = machine_cpu_seconds(), time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "bench.suite_cpu", "-q", *pytest_args], cwd=ROOT,
                          env={**os.environ, ROWS_FOLDER: str(folder), "PYTHONDONTWRITEBYTECODE": ""}, check=False)
    wall = time.monotonic() - began
    return done.returncode, wall, machine_cpu_seconds() - busy_before, wall * (os.cpu_count() or 1)


def by_file(folder: Path) -> dict[str, FileCost]:
    files: dict[str, FileCost] = {}
    for rows in folder.glob("*.tsv"):
        for line in rows.read_text().splitlines():
            own, children, wall, node = line.split("\t", 3)
            cost = files.setdefault(node.split("::", 1)[0], FileCost())
            cost.tests += 1
            cost.own += float(own)
            cost.children += float(children)
            cost.wall += float(wall)
    return files


def figures(code: int, wall: float, busy: float, total: float, files: dict[str, FileCost],
            top: int) -> dict[str, str]:
    own = sum(cost.own for cost in files.values())
    children = sum(cost.children for cost in files.values())
    shown = {
        "pytest": f"exit {code}, {sum(cost.tests for cost in files.values())} tests in {wall:.0f} s",
        "the cores meanwhile": f"{busy:.0f} s busy of {total:.0f} s ({busy / max(total, 1e-9):.0%})",
        "CPU in the tests' processes": f"{own:.0f} s",
        "CPU of the child processes they reaped": f"{children:.0f} s",
        "the rest of the cores' busy time": (f"{max(0.0, busy - own - children):.0f} s (servers the tests share: "
                                             "PostgreSQL, Redis, Chromium; pytest's collection; other work)"),
    }
    ranked = sorted(files.items(), key=lambda item: item[1].own + item[1].children, reverse=True)
    for name, cost in ranked[:top]:
        shown[name] = (f"{cost.own + cost.children:.1f} s of CPU (own {cost.own:.1f}, children {cost.children:.1f}), "
                       f"{cost.tests} test{'' if cost.tests == 1 else 's'}, {cost.wall:.0f} s of a process's wall time")
    return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--top", type=int, default=25, help="the test files shown, costliest first")
    parser.add_argument("--no-record", dest="record", action="store_false", help="leave bench/RESULTS.md alone")
    parser.add_argument("pytest_args", nargs="*", help="after --: pytest's arguments (default: the whole suite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ballot-suite-cpu-") as folder:
        code, wall, busy, total = run_suite(args.pytest_args, Path(folder))
        files = by_file(Path(folder))
    report = print_report("Where the test suite's CPU goes", figures(code, wall, busy, total, files, args.top))
    if args.record and not args.pytest_args:
        record("suite-cpu", report)


if __name__ == "__main__":
    main()
