"""The web processes' share of callback verification: a loop that checks due entries one at a time,
on the web's status-call schedule (`status_pacing`), and moves the board when votes are taken back.

Every web process runs one; the queue in PostgreSQL hands each due entry to one of them (`claim_next`).
The reconciler verifies too, on its own share of the cap (`gateway.worker_jobs`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from gateway.core.payments.checks import StatusPace
from gateway.core.payments.verification import Sessions, Verified, verify_next
from gateway.core.providers import Providers

log = logging.getLogger(__name__)

IDLE_SECONDS = 1.0  # between looks at an empty queue
# Verifications one web process runs at once: each waits for its paced turn and then for MTN's answer, so
# one at a time would leave turns unused whenever MTN takes longer to answer than the spacing of turns.
CONCURRENT_VERIFICATIONS = 4


class VerificationLoop:
    def __init__(self, sessions: Sessions, registry: Providers, pace: StatusPace,
                 on_disagreement: Callable[[], None], idle_seconds: float = IDLE_SECONDS,
                 concurrent: int = CONCURRENT_VERIFICATIONS) -> None:
        self._sessions = sessions
        self._registry = registry
        self._pace = pace
        self._on_disagreement = on_disagreement
        self._idle = idle_seconds
        self._concurrent = concurrent
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(), name=f"verifications-{n}") for n in range(self._concurrent)]

    async def _run(self) -> None:
        while True:
            try:
                done = await verify_next(self._sessions, self._registry, pace=self._pace)
            except Exception:  # the entry is due again after its lease
                log.exception("verification failed")
                done = None
            if done is None:
                await asyncio.sleep(self._idle)
            elif done[1] is Verified.DISAGREED:
                self._on_disagreement()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
