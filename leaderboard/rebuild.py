"""`gateway leaderboard rebuild`: every contest's board in Redis, again from PostgreSQL."""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy import select

from gateway.db.engine import Sessions
from gateway.db.models import Contest
from leaderboard.cache import forget_frozen, refresh_contest


async def rebuild_all(sessions: Sessions, redis: Redis) -> dict[str, int]:
    """Contest slug -> the new version. Forced: it also repairs a cache that ran ahead of a restored database.

    Frozen snapshots are dropped too; the next read recomputes them from the orders.
    """
    async with sessions() as session:
        contests = (await session.execute(select(Contest.id, Contest.slug).order_by(Contest.id))).all()
    rebuilt: dict[str, int] = {}
    for contest_id, slug in contests:
        await forget_frozen(redis, contest_id)
        rebuilt[slug] = await refresh_contest(sessions, redis, contest_id, force=True)
    return rebuilt
