"""The web process's outbox relay: hands on the work a commit left, right after each commit, in two lanes.

A confirming handler calls `kick()`; each lane also runs on its own every `TICK_SECONDS`, which carries what was
committed elsewhere (the reconciler's and the verification's counts, in the worker or another process): half the
board's SLO (a frame within 1 s of its votes), so that the frames it carries are well within it. The worker's
scheduled relay is the safety net when no web process is up.

The lanes: the local one runs the fast, idempotent handlers itself (the board's refresh: a frame for every viewer),
on connections of its own when given them; the queued one hands every other row (receipts, held orders' companions,
media notices) to RQ, in jobs of up to fifty rows (gateway.jobs.outbox). Under a show's mixed load those hand-overs
took seconds a pass (SMS and USSD votes each leave a receipt); in one lane, every board refresh waited for them, and
the board fell seconds behind its votes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from rq import Queue

from gateway.db.engine import Sessions
from gateway.jobs.outbox import BatchHandler, Handled, enqueue_delivery_batches, relay_local, relay_queued

log = logging.getLogger(__name__)

TICK_SECONDS = 0.5
# A local pass (the board's refresh: a read of PostgreSQL, a new version announced to every web process) begins at
# most this often; the votes counted meanwhile go in the next. The first after a quiet spell goes at once. Unpaced, a
# pass for every confirmation cost a busy process more than its frames were worth (each hub sends at most four a
# second).
LOCAL_PACE_SECONDS = 0.1
# The queued lane's passes (receipts and other jobs handed to RQ) begin at most this often: a receipt may wait this
# long, but a pass per confirmation handed RQ a job of one or two rows each time, a transaction and a thread's
# hand-over apiece, where a paced pass hands over all that came meanwhile in one.
QUEUED_PACE_SECONDS = 0.25
# At shutdown, how long a pass under way may take to finish before it is cancelled.
STOP_GRACE_SECONDS = 5.0


class RelayLoop:
    """`sessions` for the queued lane; `local_sessions` (default: the same) for the local lane, so that a board
    refresh need not wait for a connection behind the process's requests."""

    def __init__(self, sessions: Sessions, queue: Queue,
                 local: Mapping[str, BatchHandler] | None = None, interval: float = TICK_SECONDS,
                 handled: Handled | None = None, local_sessions: Sessions | None = None,
                 local_pace: float = LOCAL_PACE_SECONDS, queued_pace: float = QUEUED_PACE_SECONDS) -> None:
        self._sessions = sessions
        self._local_sessions = local_sessions or sessions
        self._handled = handled
        self._queue = queue
        self._local = local or {}
        self._interval = interval
        self._local_pace = local_pace
        self._queued_pace = queued_pace
        self._wakes = (asyncio.Event(), asyncio.Event())  # the local lane's, the queued lane's
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def kick(self) -> None:
        for wake in self._wakes:
            wake.set()

    def start(self) -> None:
        local_wake, queued_wake = self._wakes
        self._tasks = [asyncio.create_task(self._run(self.relay_local, local_wake, self._local_pace),
                                           name="outbox-relay-local"),
                       asyncio.create_task(self._run(self.relay_queued, queued_wake, self._queued_pace),
                                           name="outbox-relay-queued")]

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Let the passes under way finish, then end; cancel only those still running after `grace`. Cancelling at
        once could strand a connection in the middle of a statement, and a cancellation some library swallows
        in the middle of a pass left the loop running forever, and the process's shutdown waiting on it."""
        if not self._tasks:
            return
        self._stopping = True
        self.kick()
        _, running = await asyncio.wait(self._tasks, timeout=grace)
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def relay_local(self) -> int:
        return await relay_local(self._local_sessions, self._local, handled=self._handled)

    async def relay_queued(self) -> int:
        async def enqueue(ids: list[int]) -> int:
            return await asyncio.to_thread(enqueue_delivery_batches, self._queue, ids)

        return await relay_queued(self._sessions, enqueue, skip=self._local.keys())

    async def _run(self, relay: Callable[[], Awaitable[int]], wake: asyncio.Event, pace: float = 0.0) -> None:
        """A pass when kicked or every tick; passes again at once (after `pace`) while the last one moved rows."""
        loop = asyncio.get_running_loop()
        while not self._stopping:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation, and stop() hangs.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await wake.wait()
            wake.clear()
            if self._stopping:
                return
            began = loop.time()
            try:
                if await relay() > 0:
                    wake.set()  # more may have come meanwhile, or be left past the pass's limit
            except Exception:  # a database or Redis outage: try again next tick
                log.exception("outbox relay failed; will retry")
            if pace and not self._stopping:
                await asyncio.sleep(max(0.0, began + pace - loop.time()))
