"""A web process whose event loop is held up says so: how late it ran, and the code that held it."""

from __future__ import annotations

import asyncio
import gc
import logging
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from assembly.settings import Settings
from assembly.web.app import create_app, freeze_startup_objects
from assembly.web.loop_watch import LoopWatch


class StallSeen(logging.Handler):
    """Set once a watchdog has logged a stall."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "event loop stuck" in record.getMessage():
            self.seen.set()


def hold_the_loop_synchronously(at_least: float, until: threading.Event) -> None:
    """What a blocking call in a handler does to every other request of the process. It lasts until the watchdog
    has looked: a loaded machine can keep the watchdog's thread off the CPU for longer than a fixed hold."""
    time.sleep(at_least)
    until.wait(10)


@pytest.fixture
async def stalling(clean: None, settings: Settings) -> AsyncIterator[TestClient]:
    stalls = StallSeen()

    async def blocking(request: web.Request) -> web.Response:
        hold_the_loop_synchronously(0.6, stalls.seen)
        return web.Response(text="done")

    app = create_app(settings.model_copy(update={"metrics_allow": "127.0.0.1"}))
    app.router.add_get("/test-only/block", blocking)
    logging.getLogger("assembly.web.loop_watch").addHandler(stalls)
    try:
        async with TestClient(TestServer(app)) as client:
            # The watch ticks once after start-up first: a stall of the start-up itself (a collection on a loaded
            # machine) and the test's own, with no tick between them, would be one stall to it, reported once.
            await asyncio.sleep(0.3)
            yield client
    finally:
        logging.getLogger("assembly.web.loop_watch").removeHandler(stalls)


async def test_a_stuck_loop_is_logged_with_the_code_that_held_it(stalling: TestClient,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="assembly.web.loop_watch"):
        assert (await stalling.get("/test-only/block")).status == 200
    [stall] = [r for r in caplog.records if "event loop stuck" in r.getMessage()]
    assert "hold_the_loop_synchronously" in stall.getMessage()


async def test_the_loop_lag_reaches_the_metrics(stalling: TestClient) -> None:
    assert (await stalling.get("/test-only/block")).status == 200
    metrics = await (await stalling.get("/metrics")).text()
    late = [line for line in metrics.splitlines()
            if line.startswith('gateway_event_loop_lag_seconds_bucket{le="0.25"}')]
    total = [line for line in metrics.splitlines() if line.startswith("gateway_event_loop_lag_seconds_count")]
    assert late and total and float(total[0].split()[-1]) > float(late[0].split()[-1])  # one tick over 250 ms



async def idle_a_moment(app: web.Application) -> None:
    await asyncio.sleep(0.3)  # the watch's loop ticks again: whatever start-up held before is over


def a_big_heap(phase: str, info: dict[str, Any]) -> None:
    """A full collection as long as a big process's (it took 254 ms in one), without building that heap: the
    watchdog gets to look while it lasts."""
    if phase == "stop" and info.get("generation") == 2:
        time.sleep(0.4)


async def test_the_start_up_collection_is_not_reported_as_a_stall(clean: None, settings: Settings,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(settings)
    app.on_startup.extend([idle_a_moment, freeze_startup_objects])  # as `gateway web` starts
    gc.callbacks.append(a_big_heap)
    try:
        with caplog.at_level(logging.WARNING, logger="assembly.web.loop_watch"):
            async with TestClient(TestServer(app)) as client:
                gc.callbacks.remove(a_big_heap)
                assert (await client.get("/healthz")).status == 200
    finally:
        if a_big_heap in gc.callbacks:
            gc.callbacks.remove(a_big_heap)
    stalls = [r.getMessage() for r in caplog.records if "event loop stuck" in r.getMessage()]
    assert not [stall for stall in stalls if "freeze_startup_objects" in stall], stalls



def descend(levels: int, then: Callable[[], None]) -> None:
    if levels:
        descend(levels - 1, then)
    else:
        then()


def deepest() -> int:
    """How deep a recursion can go and still make a call of one frame."""
    low, high = 0, sys.getrecursionlimit()
    while low < high:
        middle = (low + high + 1) // 2
        try:
            descend(middle, lambda: None)
            low = middle
        except RecursionError:
            high = middle - 1
    return low


def test_a_collection_deep_in_a_recursion_at_the_limit_raises_nothing() -> None:
    """A deeply nested request body drives the parser to Python's recursion limit, where a collection may start:
    no error is printed from the collector's callback (the pause's figure is given up if even noting it would go past
    the limit), and the next collection's is recorded."""
    registry = CollectorRegistry()
    watch = LoopWatch(registry)
    watch.on_gc("start", {})
    descend(deepest() - 1, lambda: watch.on_gc("stop", {"generation": 2}))
    watch.on_gc("start", {})
    watch.on_gc("stop", {"generation": 2})
    watch.record_gc_pauses()  # the loop's next tick
    assert (registry.get_sample_value("gateway_gc_pause_seconds_count", {"generation": "2"}) or 0) >= 1


def test_a_collection_inside_a_figure_shared_with_the_host_neither_hangs_the_process_nor_loses_its_pause(
        tmp_path: Path) -> None:
    """Where a host's processes share their figures, prometheus_client holds one global, non-reentrant lock while it
    makes a labelled child; a collection that starts there ran the GC callback on the thread holding it. A web process
    whose callback took that lock waited for ever, answering nobody (its stack: observe_request, then on_gc)."""
    with subprocess.Popen([sys.executable, "-m", "tests.fakes.collect_under_the_metrics_lock", str(tmp_path)],
                          stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline() == "imported\n"  # however long a loaded machine takes to import
            finished = threading.Thread(target=process.wait, daemon=True)
            finished.start()
            finished.join(30)  # a second's work, given thirty
            assert process.poll() == 0, "the process hung in a collection's callback"
            assert int(process.stdout.read().split()[-1]) > 0  # the pauses noted, recorded at the next tick
        finally:
            process.kill()
