"""Orders the reconciler found paid at their provider and counted, by provider, kept in Redis so every web process
shows the same figure on /metrics (`gateway_reconciler_found_paid`).

Each is a payment whose callback did not count it first: lost, later than the reconciler's first look (30 s), or
never sent. A few are normal; most of a provider's paid orders found this way means its callbacks no longer reach
us, and every vote then waits for the reconciler, at most as fast as the provider's status-call cap allows
(deploy/prometheus/rules.yml, `ProviderCallbacksLost`). Counted by the pass as it finds each (a pass can last
minutes, and the figure must rise as the votes do), after the order's own work: the vote path never waits on it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

FOUND_PAID_KEY = "reconciler:found-paid"  # a hash: provider -> orders, since Redis was last emptied


async def note_found_paid(redis: Redis, found: Mapping[str, int]) -> None:
    """Add a pass's finds. Never fails the pass: Redis away leaves them uncounted, the orders counted all the same."""
    if not any(found.values()):
        return
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for provider, orders in found.items():
                pipe.hincrby(FOUND_PAID_KEY, provider, orders)
            await pipe.execute()
    except RedisError as exc:
        log.warning("could not count the orders the reconciler found paid, Redis is unavailable: %r", exc)


async def found_paid(redis: Redis) -> dict[str, int]:
    """Orders found paid so far, by provider. Raises RedisError."""
    counts = await redis.hgetall(FOUND_PAID_KEY)
    return {(key.decode() if isinstance(key, bytes) else str(key)): int(value) for key, value in counts.items()}
