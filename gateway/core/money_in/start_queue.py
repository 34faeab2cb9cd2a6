"""Payment prompts pushed from the web process, right after the voter's reply.

The order row is the durable record of a start still owed: if this process dies before a prompt
goes out, the reconciler finds the order never started and starts it once the lease its placement took
has run out (`gateway.core.money_in.starting.ClaimedStart`), without a second prompt
(MTN answers 409 to our reused reference; Orange's payToken was kept before `pay`, see
`gateway.core.money_in.starting.start_payment`). Shutdown still lets provider calls under way finish, so a deploy
does not rely on that recovery. Keeping the push here, not in a job queue, saves a queue round
trip per vote.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

from gateway.core.money_in.starting import ClaimedStart, release_start, spent, start_payment
from gateway.core.orders.count_batches import CountBatches
from gateway.core.providers import PaymentError, Providers
from gateway.db.engine import Sessions

log = logging.getLogger(__name__)

# Retry a provider that is down or slow, then leave the order to the reconciler.
RETRY_DELAYS: tuple[float, ...] = (2, 5, 15, 30)
# Provider calls in flight at once per process. A start holds no database connection during its
# call (see `gateway.core.money_in.starting.start_payment`), but its claim and record queue for the pool with votes
# and callbacks: more in flight measured slower confirmations in bench.votes (64: callback -> tally
# p50 1.3 s; 16: 72 ms). At MTN's usual few hundred ms per request-to-pay, 16 is ~50 prompts/s
# per process; each web process (one per core) adds as much.
CONCURRENT_STARTS = 16
# Shutdown lets provider calls under way finish for this long (one 15 s time-out and more); the
# supervisor and compose wait longer. A start still running after it (retries can take up to
# START_DEADLINE_SECONDS, gateway.core.money_in.starting) is cut off safely: its lease runs out and the
# reconciler resumes it.
SHUTDOWN_GRACE_SECONDS = 20.0
# Under overload, a new web vote waits (at most this long) while this many prompts already owed
# wait for a slot: a process pushes what it has taken before it takes more.
BACKLOG_LIMIT = 64
ADMISSION_WAIT_SECONDS = 5.0


class PaymentStarts:
    # Starts the order's payment: with the lease its placement took (a `ClaimedStart`), or None to claim one.
    claims_at_placement = True

    def __init__(self, start: Callable[[uuid.UUID, ClaimedStart | None], Awaitable[object]], *,
                 give_back: Callable[[uuid.UUID, ClaimedStart], Awaitable[object]] | None = None,
                 concurrency: int = CONCURRENT_STARTS, retry_delays: Sequence[float] = RETRY_DELAYS,
                 waited: Callable[[float], None] | None = None) -> None:
        self._start = start
        self._waited = waited  # told how long each prompt, once due, queued for a slot (its first attempt)
        self._give_back = give_back  # a placement's lease no start will use (shutdown): the reconciler's sooner
        self._slots = asyncio.Semaphore(concurrency)  # provider calls in flight at once
        self._retry_delays = tuple(retry_delays)
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._calling: set[uuid.UUID] = set()  # orders whose provider call is under way
        self._queued = 0  # starts waiting for a slot
        self._room = asyncio.Event()
        self._room.set()
        self._closed = False  # once closing: no new start (one asked for then is the reconciler's)

    @classmethod
    def of_process(cls, sessions: Sessions, providers: Providers, *, waited: Callable[[float], None] | None = None,
                   records: CountBatches | None = None) -> PaymentStarts:
        """A web process's queue: each start is `starting.start_payment` (its record in `records`' batches, if
        given), and a lease no start will use is given back (`starting.release_start`)."""
        async def start(order_id: uuid.UUID, claimed: ClaimedStart | None) -> object:
            return await start_payment(sessions, providers, order_id, claimed, records=records)

        async def give_back(order_id: uuid.UUID, claimed: ClaimedStart) -> None:
            await release_start(sessions, order_id, claimed.lease)

        return cls(start, give_back=give_back, waited=waited)

    def request(self, order_id: uuid.UUID, *, after: float = 0.0, claimed: ClaimedStart | None = None) -> None:
        """Push the order's prompt `after` seconds from now; a second request for it, or one once the queue is
        closing, is a no-op (the reconciler starts that one). `claimed`: the lease its placement took, which each
        attempt uses while fresh and renews once it is not (`starting.fresh_claim`); a start cut off before its
        call gives it back."""
        if order_id not in self._tasks and not self._closed:
            self._tasks[order_id] = asyncio.create_task(self._run(order_id, after, claimed), name=f"start-{order_id}")

    async def _run(self, order_id: uuid.UUID, after: float, claimed: ClaimedStart | None) -> None:
        calling = False
        try:
            if after > 0:
                await asyncio.sleep(after)
            due: float | None = time.monotonic()
            for delay in (*self._retry_delays, None):
                await self._take_slot()
                if due is not None and self._waited is not None:  # a retry's wait is its delay's, not the queue's
                    self._waited(time.monotonic() - due)
                due = None
                calling = True
                settled = await self._attempt(order_id, claimed)
                calling = False
                if settled:
                    return
                claimed = claimed and spent(claimed)  # the failed attempt may have given it back
                if delay is None:
                    log.warning("payment start for %s still failing; the reconciler will retry it", order_id)
                    return
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            if claimed is not None and not calling:
                await self._give_back_quietly(order_id, claimed)
            raise
        finally:
            self._tasks.pop(order_id, None)

    async def _give_back_quietly(self, order_id: uuid.UUID, claimed: ClaimedStart) -> None:
        """Hand the lease back (if still this start's) so the reconciler need not wait it out; it runs out anyway."""
        if self._give_back is None:
            return
        try:
            await asyncio.shield(self._give_back(order_id, claimed))
        except Exception:
            log.exception("could not give back the start lease of %s", order_id)

    async def _attempt(self, order_id: uuid.UUID, claimed: ClaimedStart | None) -> bool:
        """True when the start is settled (pushed, or refused for good). Holds a slot, taken by the caller."""
        self._calling.add(order_id)
        try:
            await self._start(order_id, claimed)
            return True
        except PaymentError as exc:
            log.warning("payment start for %s failed, will retry: %s", order_id, exc)
        except Exception:  # the database or network down: same as a provider outage
            log.exception("payment start for %s failed, will retry", order_id)
        finally:
            self._calling.discard(order_id)
            self._slots.release()
        return False

    async def _take_slot(self) -> None:
        self._queued += 1
        self._note_room()
        try:
            await self._slots.acquire()
        finally:
            self._queued -= 1
            self._note_room()

    def _note_room(self) -> None:
        if self._queued < BACKLOG_LIMIT:
            self._room.set()
        else:
            self._room.clear()

    async def wait_for_room(self, timeout: float = ADMISSION_WAIT_SECONDS) -> None:
        """Hold a new vote back while the prompts already owed queue for a slot (then let it in
        anyway: a slow answer beats a lost voter)."""
        if self._room.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._room.wait()

    async def wait_done(self, order_id: uuid.UUID) -> bool:
        """Wait for this process's start of the order, if one is under way or waiting to retry; whether there was
        one and it ran to its end (not cut off by the queue's closing: what it left is the reconciler's)."""
        task = self._tasks.get(order_id)
        if task is None:
            return False
        await asyncio.wait([task])
        return not task.cancelled()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def wait_idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def close(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Let provider calls under way finish (a prompt half sent is the worst kind); what is still
        waiting or retrying is the reconciler's."""
        self._closed = True
        for order_id, task in list(self._tasks.items()):
            if order_id not in self._calling:
                task.cancel()
        calling = [task for order_id, task in self._tasks.items() if order_id in self._calling]
        if calling:
            await asyncio.wait(calling, timeout=grace)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
