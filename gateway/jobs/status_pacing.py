"""Status calls kept under a provider's published cap, across every process and host.

MTN caps status GETs at about 10 a second per account, and every MTN vote needs one: before it
counts (a callback that cannot count alone) or after (the verification of one counted from its
callback, `gateway.core.payments.verification`). Above the cap MTN answers 429. So each status call reserves the next
free slot on a schedule kept in Redis (timed by Redis's own clock, so hosts' clocks do not matter)
and waits for it: calls leave evenly spaced, in the order they asked. The web processes' checks
and the reconciler keep separate schedules with fixed parts of the cap (70% and 20%), so polling
never delays a check a callback asked for, and the reconciler is never starved by a busy night.
The 10% left over absorbs jitter; a 429 that still comes back waits for another turn
(`gateway.core.payments.checking.fetch_paced`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.core.providers import PaymentProvider

log = logging.getLogger(__name__)

CHECKS_SHARE = 0.7  # of a provider's cap, for the checks callbacks ask for (web processes)
RECONCILER_SHARE = 0.2  # for the reconciler's polling (worker, or `gateway reconcile`)
# Told of each status call's turn: provider, schedule (role), seconds it waits for its slot, and the calls a
# second that schedule allows (the figures of the cap's use on /metrics).
PacedTurn = Callable[[str, str, float, float], None]

# Reserve the next slot of a schedule: returns how many ms to wait for it. KEYS[1] holds the next
# free slot (ms, Redis clock); ARGV[1] is the spacing between calls in ms.
RESERVE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
redis.call('SET', KEYS[1], slot + tonumber(ARGV[1]), 'PX', slot - now + 60000)
return slot - now
"""


class StatusPacer:
    def __init__(self, redis: Redis, *, role: str = "checks", share: float = CHECKS_SHARE,
                 waited: PacedTurn | None = None) -> None:
        self._redis = redis
        self._waited = waited
        self._role = role
        self._share = share
        self._reserve = redis.register_script(RESERVE_SLOT)
        self._local_next: dict[str, float] = {}  # the fallback schedule when Redis cannot be reached

    async def wait_turn(self, provider: PaymentProvider) -> None:
        """Return when a status call to `provider` fits under its cap (at once if it has none)."""
        per_second = provider.status_calls_per_second
        if not per_second:
            return
        spacing = 1.0 / (per_second * self._share)
        try:
            wait_ms = await self._reserve(keys=[f"pace:status:{provider.name}:{self._role}"],
                                          args=[max(1, round(spacing * 1000))])
        except RedisError:
            log.warning("status pacing: Redis unavailable, pacing %s in this process only", provider.name)
            wait_ms = self._local_slot(provider.name, spacing) * 1000
        if self._waited is not None:
            self._waited(provider.name, self._role, max(wait_ms, 0) / 1000, per_second * self._share)
        if wait_ms > 0:
            await asyncio.sleep(wait_ms / 1000)

    def _local_slot(self, name: str, spacing: float) -> float:
        """Seconds until this process's own next slot (other processes may be calling too)."""
        now = time.monotonic()
        slot = max(now, self._local_next.get(name, now))
        self._local_next[name] = slot + spacing
        return slot - now


def reconciler_pace(redis: Redis) -> Callable[[PaymentProvider], Awaitable[None]]:
    return StatusPacer(redis, role="reconciler", share=RECONCILER_SHARE).wait_turn
