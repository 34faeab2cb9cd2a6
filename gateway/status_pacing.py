"""Status calls kept under a provider's published cap, counted across every process.

MTN caps status GETs at about 10 a second per account, and every MTN vote needs one (its
callbacks are not signed). Above the cap MTN answers 429, so checks wait their turn here instead:
a Redis counter per provider and second, shared by the web processes and the reconciler. The
reconciler gets only part of each second, so polling never crowds out checks callbacks asked for.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from payments.base import PaymentProvider

log = logging.getLogger(__name__)

# Increment the second's counter only while it is under the allowance: 1 if this call may go.
TAKE_TURN = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used < tonumber(ARGV[1]) then
  redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], 2)
  return 1
end
return 0
"""


class StatusPacer:
    def __init__(self, redis: Redis, *, share: float = 1.0) -> None:
        self._redis = redis
        self._share = share  # the part of each second's allowance this caller may use
        self._take_turn = redis.register_script(TAKE_TURN)

    async def wait_turn(self, provider: PaymentProvider) -> None:
        """Return once a status call to `provider` fits under its cap (at once if it has none)."""
        per_second = provider.status_calls_per_second
        if not per_second:
            return
        allowance = max(1, int(per_second * self._share))
        while True:
            now = time.time()
            try:
                if await self._take_turn(keys=[f"pace:status:{provider.name}:{int(now)}"], args=[allowance]):
                    return
            except RedisError:  # without Redis, a 429 now and then beats no confirmation at all
                log.warning("status pacing unavailable; calling %s unpaced", provider.name, exc_info=True)
                return
            await asyncio.sleep(int(now) + 1 - now + random.uniform(0, 0.05))  # the next second
