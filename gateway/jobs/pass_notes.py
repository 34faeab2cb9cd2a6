"""The passes' small store (`gateway.core.worker_passes.PassNotes`) in Redis, which every worker shares: a pass
keeps there where a long reading stopped, or that a day is done, for the next pass on whichever worker."""

from __future__ import annotations

from redis.asyncio import Redis


class RedisNotes:
    """Each note a Redis key of its own name (no prefix: the keys releases before wrote are read on)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def read(self, key: str) -> str | None:
        value = await self._redis.get(key)
        return value.decode() if isinstance(value, bytes) else value

    async def keep(self, key: str, value: str, seconds: int) -> None:
        await self._redis.set(key, value, ex=seconds)

    async def forget(self, key: str) -> None:
        await self._redis.delete(key)
