"""Tallies cached in Redis: a sorted set and a version per contest, rebuilt from PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.models import Tally


def votes_key(contest_id: int) -> str:
    return f"leaderboard:{contest_id}:votes"


def version_key(contest_id: int) -> str:
    return f"leaderboard:{contest_id}:version"


def updated_key(contest_id: int) -> str:
    return f"leaderboard:{contest_id}:updated_at"


def channel_name(contest_id: int) -> str:
    return f"leaderboard:{contest_id}:changed"


async def refresh_contest(sessions: async_sessionmaker[AsyncSession], redis: Redis, contest_id: int) -> int:
    """Copy a contest's tallies from PostgreSQL to Redis, bump its version and tell subscribers.

    Absolute values, not increments: running it twice, or out of order, leaves the cache right.
    """
    async with sessions() as session:
        rows = (await session.execute(
            select(Tally.candidate_id, Tally.votes).where(Tally.contest_id == contest_id)
        )).all()
    scores = {str(candidate_id): votes for candidate_id, votes in rows}
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(votes_key(contest_id))
        if scores:
            pipe.zadd(votes_key(contest_id), scores)
        pipe.incr(version_key(contest_id))
        pipe.set(updated_key(contest_id), datetime.now(UTC).isoformat())
        results = await pipe.execute()
    version = int(results[-2])
    await redis.publish(channel_name(contest_id), str(version))
    return version


async def cached_votes(redis: Redis, contest_id: int) -> dict[int, int]:
    pairs = await redis.zrange(votes_key(contest_id), 0, -1, withscores=True)
    return {int(member): int(score) for member, score in pairs}
