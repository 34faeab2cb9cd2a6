"""The web process's outbox relay: enqueues confirmation work right after each commit.

A confirming handler calls `kick()`; the loop also runs on its own every `TICK_SECONDS`, which carries what was
committed elsewhere (the reconciler's and the verification's counts, in the worker or another process): half the
board's SLO (a frame within 1 s of its votes), so that the frames it carries are well within it. The worker's
scheduled relay is the safety net when no web process is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from rq import Queue

from gateway.db.engine import Sessions
from gateway.jobs.outbox import BatchHandler, Handled, enqueue_deliveries, relay_outbox

log = logging.getLogger(__name__)

TICK_SECONDS = 0.5
# At shutdown, how long a pass under way may take to finish before it is cancelled.
STOP_GRACE_SECONDS = 5.0


class RelayLoop:
    def __init__(self, sessions: Sessions, queue: Queue,
                 local: Mapping[str, BatchHandler] | None = None, interval: float = TICK_SECONDS,
                 handled: Handled | None = None) -> None:
        self._sessions = sessions
        self._handled = handled
        self._queue = queue
        self._local = local
        self._interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def kick(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Let a pass under way finish, then end; cancel only one still running after `grace`. Cancelling at
        once could strand a connection in the middle of a statement, and a cancellation some library swallows
        in the middle of a pass left the loop running forever, and the process's shutdown waiting on it."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        finished, _ = await asyncio.wait({self._task}, timeout=grace)
        if not finished:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def relay_once(self) -> int:
        async def enqueue(ids: list[int]) -> int:
            return await asyncio.to_thread(enqueue_deliveries, self._queue, ids)

        return await relay_outbox(self._sessions, enqueue, self._local, handled=self._handled)

    async def _run(self) -> None:
        while not self._stopping:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation, and stop() hangs.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            try:
                while await self.relay_once() > 0 and not self._stopping:
                    pass
            except Exception:  # a database or Redis outage: try again next tick
                log.exception("outbox relay failed; will retry")
