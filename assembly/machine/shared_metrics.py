"""The figures a host's processes measure, summed on every scrape: prometheus_client's multiprocess mode.

A host's web processes share one port (SO_REUSEPORT), so a scrape reaches one of them, whichever the kernel picks:
figures kept in each process's memory would make every scrape one process's sample, and a counter would jump
between processes' values. With PROMETHEUS_MULTIPROC_DIR set, each process writes its counters, histograms and
gauges to files of its own in that directory, and whichever web process answers reads them all
(`MultiProcessCollector`): the host's totals, the worker's included (the board frames its relay publishes, its
calls to the providers). The figures read at scrape time are not there (`assembly.web.scrape_figures`).

`gateway run` names the directory (GATEWAY_DATA_DIR/metrics, unless PROMETHEUS_MULTIPROC_DIR already names one),
empties it as it starts, and forgets a child's live gauges once it exits; the counts a child made stay, as they
happened. Without the variable (one `gateway web` per container, the tests' in-process apps) each process serves
its own figures from its app's registry. prometheus_client chooses where values live when it is imported, so the
variable must be in the environment a process starts with.

The admin's control room reads the same sums (`host_source`): its "since the start" is the start of these figures,
when `gateway run` emptied the directory (the time it wrote there, `STARTED_FILE`), not the serving process's.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from gateway.kit.service_levels import LevelsSource, ServiceLevels, own_source

SHARED_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
STARTED_FILE = "started_at"  # the wall-clock time the directory was emptied (not a *.db: never summed)


def shared_dir() -> str | None:
    """The directory this process writes its figures to, or None: they are in its memory only (also when the
    variable was set after prometheus_client was imported, too late for it)."""
    place = os.environ.get(SHARED_DIR_ENV)
    return place if place and getattr(values.ValueClass, "_multiprocess", False) else None


def render_shared(place: str, read: Collector) -> bytes:
    """Every process's measured figures summed (gauges as each one's mode says), and this process's reading."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, place)  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated
    registry.register(read)
    return generate_latest(registry)


def prepare(data_dir: Path) -> Path:
    """The directory the children will share, emptied (the files of processes of an earlier run would be summed
    in) and named in the environment they inherit."""
    place = Path(os.environ.get(SHARED_DIR_ENV) or data_dir / "metrics")
    place.mkdir(parents=True, exist_ok=True)
    for left in place.glob("*.db"):  # prometheus_client's files only
        left.unlink()
    (place / STARTED_FILE).write_text(f"{time.time()}\n")
    os.environ[SHARED_DIR_ENV] = str(place)
    return place


def forget(pid: int) -> None:
    """An exited process's live gauges (its payment work under way) leave the sums; its counters stay."""
    if place := os.environ.get(SHARED_DIR_ENV):
        mark_process_dead(pid, place)  # type: ignore[no-untyped-call]  # unannotated too


def host_source(place: str, process_started_at: float) -> LevelsSource:
    """The host's sums for the control room, zero when the directory was emptied; a directory no `gateway run`
    prepared tells no such time, so there the figures count from this process's start, as they did alone."""
    collector = MultiProcessCollector(None, place)  # type: ignore[no-untyped-call]  # registered nowhere
    try:
        emptied = float((Path(place) / STARTED_FILE).read_text())
    except (OSError, ValueError):
        return LevelsSource(collector.collect, process_started_at, True)
    return LevelsSource(collector.collect, time.monotonic() - max(time.time() - emptied, 0.0), True)


def levels_source(levels: ServiceLevels) -> LevelsSource:
    """What the control room of a process just built reads: the host's sums where it shares its figures."""
    place, now = shared_dir(), time.monotonic()
    return own_source(levels, now) if place is None else host_source(place, now)
