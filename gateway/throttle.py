"""Fixed-window rate limits in Redis, shared by every web process."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from gateway.errors import RateLimited


async def hit(redis: Redis, key: str, limit: int, window_seconds: int, now: float | None = None) -> bool:
    """Count one attempt under `key`; True while within `limit` per window."""
    slot = int((now if now is not None else time.time()) // window_seconds)
    name = f"throttle:{key}:{slot}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(name)
        pipe.expire(name, window_seconds + 1)
        count, _ = await pipe.execute()
    return int(count) <= limit


async def enforce(redis: Redis, key: str, limit: int, window_seconds: int, message: str) -> None:
    if not await hit(redis, key, limit, window_seconds):
        raise RateLimited(message)
