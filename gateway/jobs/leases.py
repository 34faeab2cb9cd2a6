"""A lease in Redis that keeps a periodic job to one run at a time across worker processes.

The lease is short and renewed while its holder runs, so a holder killed with SIGKILL (no
`finally`, no release) blocks the next run for at most one lease, not for as long as the
longest run could take. Built on redis-py's `Lock`: only the holder can renew or release it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, LockNotOwnedError, RedisError

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def lease_held(redis: Redis, name: str, seconds: float) -> AsyncIterator[bool]:
    """Yield True while this run holds the lease (renewed every third of it), False when another does."""
    lock = redis.lock(name, timeout=seconds, blocking=False, thread_local=False)
    if not await lock.acquire():
        yield False
        return
    keeper = asyncio.create_task(_renew(lock, seconds / 3), name=f"lease-{name}")
    try:
        yield True
    finally:
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
        # Lost meanwhile (Redis flushed: nothing of ours to drop) or Redis away: it runs out by itself.
        with contextlib.suppress(LockError, RedisError):
            await lock.release()


async def _renew(lock: Lock, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await lock.reacquire()
        except LockNotOwnedError:  # Redis lost it: another run may start; every order's statements are guarded
            log.warning("lost the lease %s while holding it", lock.name)
            return
        except RedisError as exc:  # Redis away for a moment: try again at the next turn
            log.warning("could not renew the lease %s: %r", lock.name, exc)
