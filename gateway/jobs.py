"""RQ job functions. Each runs in a fresh event loop, so it opens and closes its own clients."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import outbox, votes
from gateway.config import Settings
from gateway.database import create_engine, session_factory
from gateway.queues import job_queue, sync_redis
from leaderboard.cache import refresh_contest

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class JobContext:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis


@asynccontextmanager
async def job_context() -> AsyncIterator[JobContext]:
    settings = Settings()
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("a job needs DATABASE_URL and REDIS_URL (set by `gateway run` or the deployment)")
    engine = create_engine(settings.database_url, pool_size=2)
    redis = Redis.from_url(settings.redis_url)
    try:
        yield JobContext(settings, session_factory(engine), redis)
    finally:
        await redis.aclose()
        await engine.dispose()


def run_in_context(work: Callable[[JobContext], Awaitable[T]]) -> T:
    async def main() -> T:
        async with job_context() as ctx:
            return await work(ctx)

    return asyncio.run(main())


def outbox_handlers(ctx: JobContext) -> dict[str, outbox.Handler]:
    """What each outbox topic does once its transaction has committed."""

    async def publish_board(payload: dict[str, Any]) -> None:
        await refresh_contest(ctx.sessions, ctx.redis, int(payload["contest_id"]))

    return {"vote.confirmed": publish_board}


def deliver_outbox_job(outbox_id: int) -> bool:
    return run_in_context(lambda ctx: outbox.deliver(ctx.sessions, outbox_id, outbox_handlers(ctx)))


def relay_outbox_job() -> int:
    """The relay's safety net (the web process relays at once after each confirmation)."""

    async def relay(ctx: JobContext) -> int:
        queue = job_queue(sync_redis(ctx.settings.redis_url or ""))

        async def enqueue(ids: list[int]) -> int:
            return await asyncio.to_thread(outbox.enqueue_deliveries, queue, ids)

        return await outbox.relay_outbox(ctx.sessions, enqueue)

    return run_in_context(relay)


def expire_stale_orders_job() -> int:
    """Expire pending orders past their window; returns how many this run expired."""

    async def expire(ctx: JobContext) -> int:
        expired = 0
        for order_id in await votes.stale_pending_orders(ctx.sessions):
            expired += await votes.expire_order(ctx.sessions, order_id)
        if expired:
            log.info("expired %d stale pending orders", expired)
        return expired

    return run_in_context(expire)
