"""A reconciler pass: the due pending orders, several checked at once, read again as they are done.

With a provider's callbacks lost, every vote waits for this pass, so it must keep up with the provider's status-call
cap: its checks queue for the cap's turns first (`gateway.kit.status_pacing`), `CONCURRENT_CHECKS` at once (each
waits for its turn and then for the provider's answer, up to a second for MTN: one at a time would use a fraction of
the turns), and it reads the due orders again once those it read are done, each order once a pass, until none is
left or its time is up (a batch read once a pass would cap it at a batch per pass). A provider that fails a check
is asked one order at a time until it answers again, and sits out the rest of the pass after `UNREACHABLE_IN_A_ROW`
failures in a row: a silent one costs a minute a check, and other providers' orders must not wait behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gateway.core.money_in.checking import StatusPace
from gateway.core.orders.outcomes import Outcome, Reconciled
from gateway.core.providers import PaymentProvider

log = logging.getLogger(__name__)

# Orders checked at once: MTN's 9 turns a second, each answered within about a second, with room for the counting.
CONCURRENT_CHECKS = 10
BATCH = 200  # due orders read at a time
# A provider that failed this many checks in a row sits out the rest of the pass.
UNREACHABLE_IN_A_ROW = 3
# What a pass reports without listing the order as changed.
UNCHANGED = frozenset({Outcome.PENDING, Outcome.START_AGAIN, Outcome.START_UNDER_WAY, Outcome.ALREADY_DECIDED,
                       Reconciled.NOT_STARTED_YET, Reconciled.UNREACHABLE, Reconciled.RESTARTED,
                       Reconciled.START_IN_PROGRESS, Reconciled.ERROR})
# One order's check: its id, the time it is judged at, the pace of its status call.
CheckOrder = Callable[[uuid.UUID, datetime, StatusPace], Awaitable[Outcome | Reconciled]]
# Told of each order found paid and counted, by its provider, as it is (`found_paid`): a pass can last
# minutes, and the figure must rise as the votes do.
FoundPaid = Callable[[Mapping[str, int]], Awaitable[None]]


@dataclass
class ReconcileReport:
    checked: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    changed: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    found_paid: Counter[str] = field(default_factory=Counter)  # provider -> orders it said were paid, counted here

    def summary(self) -> str:
        parts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(self.outcomes.items()))
        return f"checked {self.checked} pending orders" + (f": {parts}" if parts else "")


class Sweep:
    """One pass's state: its report, what it looked at, how each provider answered."""

    def __init__(self, check: CheckOrder, now: datetime, *, limit: int | None, pace: StatusPace | None,
                 calls_per_second: float, stop_after: float | None, found: FoundPaid | None = None) -> None:
        self.now = now
        self.report = ReconcileReport()
        self.seen: set[uuid.UUID] = set()
        self._check = check
        self._found = found
        self._limit = limit
        self._pace = pace
        self._calls_per_second = calls_per_second
        self._stop_after = stop_after
        self._started = time.monotonic()
        self._next_call: dict[str, float] = {}  # the pass's own spacing, by provider, for calls no schedule paces
        self._failing: Counter[str] = Counter()  # checks in a row a provider could not answer, this pass
        self._answering: set[str] = set()  # providers whose last check this pass was answered
        self._probing: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._out_of_time_logged = False

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def out_of_time(self) -> bool:
        if self._stop_after is None or self.elapsed() <= self._stop_after:
            return False
        if not self._out_of_time_logged:
            self._out_of_time_logged = True
            log.warning("reconciler pass stopped after %.0f s, %d orders checked", self._stop_after,
                        self.report.checked)
        return True

    def room(self) -> int:
        """How many more orders this pass may read (its `limit`)."""
        return BATCH if self._limit is None else min(BATCH, self._limit - len(self.seen))

    async def paced(self, provider: PaymentProvider) -> None:
        """A status call's turn: the provider's shared schedule where it has a cap and the pass was given one, else
        this pass's own spacing (providers whose client paces itself still wait for it)."""
        if self._pace is not None and provider.status_calls_per_second:
            await self._pace(provider)
            return
        now = time.monotonic()
        turn = max(now, self._next_call.get(provider.name, now))
        self._next_call[provider.name] = turn + 1 / self._calls_per_second
        await asyncio.sleep(turn - now)

    async def check_all(self, orders: list[tuple[uuid.UUID, str]]) -> None:
        """Check `orders`, `CONCURRENT_CHECKS` at once, in their order."""
        self.seen.update(order_id for order_id, _ in orders)
        queue = iter(orders)

        async def work() -> None:
            for order_id, provider in queue:  # one iterator: each order is taken by one worker
                async with self._turn_of(provider):
                    if self.out_of_time():
                        return
                    if self._failing[provider] >= UNREACHABLE_IN_A_ROW:
                        self.report.outcomes[Reconciled.PROVIDER_DOWN] += 1  # still due: a later pass checks it
                        continue
                    # A paced pass can take minutes: each order is judged at the time it is reached.
                    order_now = self.now + timedelta(seconds=self.elapsed())
                    outcome = await self._check(order_id, order_now, self.paced)
                    self._note(order_id, provider, outcome)
                if outcome is Outcome.COUNTED and self._found is not None:
                    await self._found({provider: 1})

        await asyncio.gather(*(work() for _ in range(CONCURRENT_CHECKS)))

    @contextlib.asynccontextmanager
    async def _turn_of(self, provider: str) -> AsyncIterator[None]:
        """At once for a provider that answered its last check; one order at a time for one that has not yet, or
        failed it: a failing provider is not sent `CONCURRENT_CHECKS` questions that each cost a time-out, and
        the count of its failures in a row is its answers' (in order)."""
        if provider not in self._answering:
            probing = self._probing[provider]
            await probing.acquire()
            if provider not in self._answering:
                try:
                    yield
                finally:
                    probing.release()
                return
            probing.release()  # it answered while this order waited: no need to wait further
        yield

    def _note(self, order_id: uuid.UUID, provider: str, outcome: Outcome | Reconciled) -> None:
        if outcome in (Reconciled.UNREACHABLE, Reconciled.ERROR):
            self._failing[provider] += 1
            self._answering.discard(provider)
        else:
            self._failing[provider] = 0
            self._answering.add(provider)
        self.report.checked += 1
        self.report.outcomes[outcome] += 1
        if outcome is Outcome.COUNTED:
            self.report.found_paid[provider] += 1
        if outcome not in UNCHANGED:
            self.report.changed.append((order_id, outcome))
