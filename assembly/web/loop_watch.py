"""Stalls of a web process's event loop: how late it runs, what it was doing when stuck, and GC pauses.

Every request of a process waits while its event loop runs something else: a callback that blocks (a
synchronous call, a big JSON dump), a garbage collection of the oldest generation, or nothing at all when
the machine gives the process no CPU. A USSD hop's p99 jumping from milliseconds to seconds is one of
these, and they call for different fixes; this tells them apart:

- the loop's lag (how late a 50 ms timer fires) goes to `/metrics` as a histogram;
- a watchdog thread notices a loop stuck past `STALL_SECONDS` and logs the loop thread's stack at that
  moment (the blocking code), once per stall;
- each collection's pause goes to `/metrics` by generation;
- once the process has started, the loop's ticks are its heartbeat to the supervisor (`assembly.machine.heartbeat`): a
  loop held for good (a lock never released, a C extension that never returns) stops them, and the supervisor
  replaces the process.

A stall with no stack (the loop caught up before the watchdog looked) and no long GC points at the machine.

A collection starts wherever an allocation tips its threshold, also inside a metric's update while
prometheus_client's multiprocess mode holds its one global, non-reentrant lock: a GC callback that touched a
metric there would wait for that lock for ever, on the thread holding it. So the callback only keeps plain
numbers, and the loop's next tick puts them into the histogram.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

from assembly.machine.heartbeat import Heartbeat

log = logging.getLogger(__name__)

TICK_SECONDS = 0.05
STALL_SECONDS = 0.25
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
GC_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
STACK_FRAMES = 12
# Pauses noted between two ticks: a loop held for long forgets the oldest rather than grow.
GC_PAUSES_KEPT = 1000
# How a web process that ended itself for a frozen loop exits (EX_SOFTWARE): its orchestrator starts another.
EXIT_FROZEN = 70


class LoopWatch:
    def __init__(self, registry: CollectorRegistry, stall_seconds: float = STALL_SECONDS,
                 heartbeat: Heartbeat | None = None) -> None:
        self.lag = Histogram("gateway_event_loop_lag_seconds", "How late the event loop ran a timer",
                             buckets=LAG_BUCKETS, registry=registry)
        self.gc_pause = Histogram("gateway_gc_pause_seconds", "Garbage collection pauses", ["generation"],
                                  buckets=GC_BUCKETS, registry=registry)
        self.stall_seconds = stall_seconds
        self._last_tick = time.monotonic()
        self._gc_started = 0.0
        self._stop = threading.Event()
        self._loop_thread = threading.get_ident()
        self._pausing = False
        # (generation, seconds) of each collection since the last tick: appended by the GC callback, which takes
        # no lock to do it (a deque's append is one step under the GIL), and read on the loop.
        self._gc_pauses: deque[tuple[int, float]] = deque(maxlen=GC_PAUSES_KEPT)
        self.heartbeat = heartbeat or Heartbeat.from_environment()
        self._beating = False

    async def run(self) -> None:
        """Tick on the loop: each late wake-up is the time the loop spent on something else."""
        loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        while True:
            expected = loop.time() + TICK_SECONDS
            await asyncio.sleep(TICK_SECONDS)
            self.lag.observe(max(0.0, loop.time() - expected))
            self._last_tick = time.monotonic()
            self.record_gc_pauses()
            if self._beating:
                self.heartbeat.beat(self._last_tick)

    def beat_from_now(self, frozen_after: float) -> None:
        """The process has started: from now on its loop's ticks are its heartbeats. Its start-up (slow synchronous
        steps, the full collection) is given the supervisor's longer wait for a first beat instead. A process no
        supervisor watches (`gateway web` in a container: its orchestrator restarts a process that exits, never one
        that hangs) ends itself instead when its loop stops for as long as the supervisor would wait (`frozen_after`
        seconds, `GATEWAY_FROZEN_AFTER_SECONDS`)."""
        self._beating = True
        if self.heartbeat.fd is None:
            threading.Thread(target=self.end_when_stuck, args=(frozen_after,), name="loop-ender",
                             daemon=True).start()

    def end_when_stuck(self, seconds: float) -> None:
        """A thread of its own, taking no lock: the watchdog's report logs, and a frozen loop may hold the logging
        handler's lock. One line straight to stderr's descriptor, then the process exits, its sockets closed."""
        while not self._stop.wait(seconds / 20):
            stuck_for = time.monotonic() - self._last_tick
            if stuck_for >= seconds and not self._pausing:
                os.write(2, b"event loop stuck for %d s and no supervisor to replace this process: ending it\n"
                         % stuck_for)
                os._exit(EXIT_FROZEN)

    def record_gc_pauses(self) -> None:
        """The pauses the GC callback noted, into the histogram: here, on the loop, taking the metric's lock is safe
        (a collection that starts meanwhile only notes its own)."""
        while self._gc_pauses:
            generation, seconds = self._gc_pauses.popleft()
            self.gc_pause.labels(str(generation) if generation >= 0 else "?").observe(seconds)

    def watch(self) -> None:
        """The watchdog thread: log what the loop thread runs while it is stuck (once per stall)."""
        reported_tick = 0.0
        # Half the stall threshold: a stall is still caught while it lasts, and the thread takes the GIL
        # from a busy loop 8 times a second rather than 20.
        while not self._stop.wait(self.stall_seconds / 2):
            last_tick = self._last_tick
            stuck_for = time.monotonic() - last_tick
            if stuck_for < self.stall_seconds or last_tick == reported_tick:
                continue
            reported_tick = last_tick
            where = loop_stack(self._loop_thread)
            # A pause the process chose (or one that ended as the stack was read) is no stall to report.
            if self._pausing or self._last_tick != last_tick:
                continue
            log.warning("event loop stuck for %.0f ms; it is running:\n%s", stuck_for * 1000, where)

    @contextlib.contextmanager
    def expected_pause(self) -> Iterator[None]:
        """Hold the loop on purpose (the start-up's full collection): the watchdog does not report it, and the
        wait it caused does not count against the next tick."""
        self._pausing = True
        try:
            yield
        finally:
            self._last_tick = time.monotonic()  # before the flag drops: the watchdog never sees the old tick
            self._pausing = False

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        """Notes the pause, taking no lock (see the module's docstring): no metric, no log line, no I/O here.
        A collection may also start deep in a recursion a hostile request's nesting drove to Python's limit: the
        note's few calls would then raise there, an error printed for nothing. That pause goes unrecorded."""
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started:
            started, self._gc_started = self._gc_started, 0.0
            try:  # not contextlib.suppress: making it is one call more, past the limit too
                self._gc_pauses.append((info.get("generation", -1), time.perf_counter() - started))
            except RecursionError:
                pass

    def stop(self) -> None:
        self._stop.set()


def loop_stack(thread_id: int | None) -> str:
    """What the loop thread is running, as a printed stack. Read from another thread while the loop runs on: a
    frame can be torn down (or be a greenlet's, as SQLAlchemy's async layer switches them) as it is read, so
    anything odd gives a note rather than an exception that would end the watchdog."""
    try:
        frame = sys._current_frames().get(thread_id) if thread_id is not None else None
        return "".join(traceback.format_stack(frame, limit=STACK_FRAMES)) if frame else "(no frame)\n"
    except Exception as exc:  # noqa: BLE001 - the watchdog must outlive whatever the frame turned out to be
        return f"(its stack could not be read: {type(exc).__name__}: {exc})\n"


@contextlib.asynccontextmanager
async def watching(watch: LoopWatch) -> AsyncIterator[None]:
    """Watch this process's loop for the app's lifetime."""
    task = asyncio.create_task(watch.run(), name="loop-watch")
    thread = threading.Thread(target=watch.watch, name="loop-watchdog", daemon=True)
    thread.start()
    gc.callbacks.append(watch.on_gc)
    try:
        yield
    finally:
        gc.callbacks.remove(watch.on_gc)
        watch.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        thread.join(timeout=1)
