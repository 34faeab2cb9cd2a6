"""The web processes' share of callback verification: a loop that claims due entries and checks them,
a few at once, on the status-call turns pending orders' checks leave (`gateway.kit.status_pacing`: a voter waiting
goes first), and moves the board when votes are taken back.

Every web process runs one; the queue in PostgreSQL hands each due entry to one of them (`claim_next`), by rank
(`gateway.core.money_in.verification.priority`), one claim in ten the oldest. Each loop also ranks the entries that
fell due (`gateway.core.money_in.verification.ranking`), once a second, a batch locked at a time.
The reconciler verifies too, on the same spare turns (`gateway.core.money_in.passes`). The loop has its own
small connection pool (`assembly.web.app.verification_ctx`): it never takes a connection a request needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from gateway.core.money_in.checking import StatusPace
from gateway.core.money_in.verification.by_status import Verified, claim_next, verify_claimed
from gateway.core.money_in.verification.priority import ClaimTurns, OriginCounts
from gateway.core.money_in.verification.ranking import rank_all_due
from gateway.core.providers import Providers
from gateway.db.engine import Sessions

log = logging.getLogger(__name__)

IDLE_SECONDS = 1.0  # between looks at an empty queue
# Verifications one web process runs at once: each waits for its paced turn and then for MTN's answer, so
# one at a time would leave turns unused whenever MTN takes longer to answer than the spacing of turns.
CONCURRENT_VERIFICATIONS = 4
RANK_EVERY_SECONDS = 1.0  # between ranking passes over the entries that fell due
STOP_GRACE_SECONDS = 5.0  # for the claim and the ranking under way at a stop: statements of milliseconds


class VerificationLoop:
    def __init__(self, sessions: Sessions, registry: Providers, pace: StatusPace,
                 on_disagreement: Callable[[], None], idle_seconds: float = IDLE_SECONDS,
                 concurrent: int = CONCURRENT_VERIFICATIONS, turns: ClaimTurns | None = None,
                 rank_every: float = RANK_EVERY_SECONDS) -> None:
        self._sessions = sessions
        self._registry = registry
        self._pace = pace
        self._on_disagreement = on_disagreement
        self._idle = idle_seconds
        self._slots = asyncio.Semaphore(concurrent)
        self._turns = turns or ClaimTurns()
        self._origins = OriginCounts()  # the callbacks' senders this process has ranked
        self._rank_every = rank_every
        self._poller: asyncio.Task[None] | None = None
        self._ranker: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._ranker = asyncio.create_task(self._rank_forever(), name="verification-ranks")
        self._poller = asyncio.create_task(self._claim_forever(), name="verifications")

    async def _rank_forever(self) -> None:
        """Rank what fell due; an entry the ranks miss meanwhile is claimed all the same, after the ranked."""
        while not self._stopping.is_set():
            try:
                await rank_all_due(self._sessions, self._origins, datetime.now(UTC),
                                   skip=list(self._registry.payment_lists()))
            except Exception:
                log.exception("verification queue could not be ranked")
            await self._pause(self._rank_every)

    async def _claim_forever(self) -> None:
        """One look at the queue a second while it is empty; while it is not, a claim per free slot."""
        while True:
            await self._slots.acquire()
            if self._stopping.is_set():  # a slot a cancelled verification gave back
                self._slots.release()
                return
            try:
                claimed = await claim_next(self._sessions, datetime.now(UTC), list(self._registry.payment_lists()),
                                           oldest_first=self._turns.oldest_first())
            except Exception:
                log.exception("verification queue could not be read")
                claimed = None
            if claimed is None:
                self._slots.release()
                await self._pause(self._idle)
                continue
            task = asyncio.create_task(self._verify(*claimed), name=f"verify-{claimed[0]}")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _verify(self, order_id: uuid.UUID, attempts: int) -> None:
        try:
            verified = await verify_claimed(self._sessions, self._registry, order_id, attempts, pace=self._pace)
            if verified is Verified.DISAGREED:
                self._on_disagreement()
        except Exception:  # due again after its claim's lease
            log.exception("verification of %s failed", order_id)
        finally:
            self._slots.release()

    async def _pause(self, seconds: float) -> None:
        """Sleep, but no longer than until a stop."""
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Let the claim and the ranking under way finish, then end; cancel only one still running after `grace`.
        Cancelled inside a statement, a loop lost its connection (SQLAlchemy discards it, or asyncpg leaves it
        neither closed nor pooled, asyncpg#1156), and the pool opened another: a backend and asyncpg's look-up of our
        types. Verifications under way are cancelled: one may wait seconds for its paced turn or its provider's
        answer, and its claim's lease makes it due again."""
        self._stopping.set()
        await cancelled(set(self._running))  # their slots given back, a claim loop waiting for one goes on, and ends
        loops = {task for task in (self._ranker, self._poller) if task is not None}
        if loops:
            _, late = await asyncio.wait(loops, timeout=grace)
            await cancelled(late)
        await cancelled(set(self._running))  # one claimed as the stop came


async def cancelled(tasks: set[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
