"""Status calls kept under a provider's published cap, across every process and host.

MTN caps status GETs at about 10 a second per account, and every MTN vote needs one: before it
counts (a callback that cannot count alone, or none that came: the reconciler's check of a pending order) or after
(the verification of one counted from its callback, `gateway.core.money_in.verification.by_status`). Above the cap MTN
answers 429. So each status call takes a turn of one schedule per provider that every process shares
(`gateway.kit.paced_turns`), at 90% of the cap: calls leave evenly spaced, and the 10% left over absorbs jitter; a
429 that still comes back waits for another turn (`gateway.core.money_in.checking.fetch_paced`).

The calls are not equal. A pending order's check is a voter waiting for their vote to count: the checks callbacks ask
for (web processes, `checks`) and the reconciler's (worker, or `gateway reconcile`) queue for the next turn, and
have every turn they can use. A verification of an order already counted, or the day's books against the provider's,
can wait: they take only the turns those leave free (`PacedTurns.wait_for_spare`), so with callbacks lost the
reconciler counts votes at nearly the whole cap, and on an ordinary night, when few orders are pending, verification
has nearly all of it. A call that found no spare turn for `SPARE_PATIENCE` queues as any other: delayed, never
starved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from gateway.core.providers import PaymentProvider
from gateway.kit.paced_turns import PacedTurns

SHARE = 0.9  # of a provider's cap, for all its status calls together: the rest absorbs jitter
# Seconds a call that can wait looks for a spare turn before it queues for one: well under a verification's claim
# (2 minutes) and a money check's pass (2 minutes), so neither runs out while pending orders keep every turn busy.
SPARE_PATIENCE = 20.0
# Told of each status call's turn: provider, role, seconds it waited for its turn, and the calls a second the
# provider's schedule allows (the figures of the cap's use on /metrics).
PacedTurn = Callable[[str, str, float, float], None]


def schedule_of(provider: str) -> str:
    """The Redis key of a provider's status calls' schedule."""
    return f"pace:status:{provider}"


class StatusPacer:
    """Turns for one role's status calls: `spare` for calls that take only the turns pending orders' checks leave."""

    def __init__(self, redis: Redis, *, role: str = "checks", spare: bool = False,
                 waited: PacedTurn | None = None) -> None:
        self._waited = waited
        self._role = role
        self._spare = spare
        self._turns = PacedTurns(redis)

    @property
    def went_off_turn(self) -> int:
        """Calls this pacer let leave off their turns, their process stalling turn after turn (`PacedTurns.wait`)."""
        return sum(self._turns.went_off_turn.values())

    async def wait_turn(self, provider: PaymentProvider) -> None:
        """Return when a status call to `provider` fits under its cap (at once if it has none)."""
        if not provider.status_calls_per_second:
            return
        per_second = provider.status_calls_per_second * SHARE
        schedule = schedule_of(provider.name)
        if self._spare:
            waited = await self._turns.wait_for_spare(schedule, per_second, SPARE_PATIENCE)
        else:
            waited = await self._turns.wait(schedule, per_second)
        if self._waited is not None:
            self._waited(provider.name, self._role, waited, per_second)


def reconciler_pace(redis: Redis) -> Callable[[PaymentProvider], Awaitable[None]]:
    """The reconciler's checks of pending orders: as soon as a turn comes."""
    return StatusPacer(redis, role="reconciler").wait_turn


def spare_pace(redis: Redis, role: str = "verification",
               waited: PacedTurn | None = None) -> Callable[[PaymentProvider], Awaitable[None]]:
    """Calls that can wait (verifications, the money check): on the turns pending orders' checks leave."""
    return StatusPacer(redis, role=role, spare=True, waited=waited).wait_turn
