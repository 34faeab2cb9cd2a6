"""Status calls kept under a provider's published cap, across every process and host.

MTN caps status GETs at about 10 a second per account, and every MTN vote needs one: before it
counts (a callback that cannot count alone) or after (the verification of one counted from its
callback, `gateway.core.payments.verification`). Above the cap MTN answers 429. So each status call
takes the next turn of a schedule every process shares (`gateway.kit.paced_turns`): calls leave evenly
spaced, in the order they asked. The web processes' checks and the reconciler keep separate schedules
with fixed parts of the cap (70% and 20%), so polling never delays a check a callback asked for, and
the reconciler is never starved by a busy night. The 10% left over absorbs jitter; a 429 that still
comes back waits for another turn (`gateway.core.payments.checking.fetch_paced`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from gateway.core.providers import PaymentProvider
from gateway.kit.paced_turns import PacedTurns

CHECKS_SHARE = 0.7  # of a provider's cap, for the checks callbacks ask for (web processes)
RECONCILER_SHARE = 0.2  # for the reconciler's polling (worker, or `gateway reconcile`)
# Told of each status call's turn: provider, schedule (role), seconds it waits for its slot, and the calls a
# second that schedule allows (the figures of the cap's use on /metrics).
PacedTurn = Callable[[str, str, float, float], None]


class StatusPacer:
    def __init__(self, redis: Redis, *, role: str = "checks", share: float = CHECKS_SHARE,
                 waited: PacedTurn | None = None) -> None:
        self._waited = waited
        self._role = role
        self._share = share
        self._turns = PacedTurns(redis)

    async def wait_turn(self, provider: PaymentProvider) -> None:
        """Return when a status call to `provider` fits under its cap (at once if it has none)."""
        per_second = provider.status_calls_per_second
        if not per_second:
            return
        waited = await self._turns.wait(f"pace:status:{provider.name}:{self._role}", per_second * self._share)
        if self._waited is not None:
            self._waited(provider.name, self._role, waited, per_second * self._share)


def reconciler_pace(redis: Redis) -> Callable[[PaymentProvider], Awaitable[None]]:
    return StatusPacer(redis, role="reconciler", share=RECONCILER_SHARE).wait_turn
