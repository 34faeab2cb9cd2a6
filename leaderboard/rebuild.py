"""`gateway leaderboard rebuild`: every contest's board in Redis, again from PostgreSQL; and the same, by itself, once
the boards are on another Redis server than the one they were last rebuilt on (`follow_redis`)."""

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


# The run id (`INFO server`) of the Redis server the boards were last rebuilt on. A replica copies this key from its
# master, so once Sentinel promotes it (or a Redis restarts, empty) the key names another server than the one that
# answers: the boards it holds may lack the last writes the old master took (Sentinel's replication is
# asynchronous), and a contest that takes no vote after the failover would keep its stale board for good.
BUILT_ON = "leaderboard:built-on"


async def follow_redis(sessions: Sessions, redis: Redis) -> dict[str, int] | None:
    """Every board rebuilt from PostgreSQL if the Redis server answering is not the one they were last rebuilt on;
    None when it is (the usual case: one GET and one INFO)."""
    run_id = str((await redis.info("server"))["run_id"])
    built_on = await redis.get(BUILT_ON)
    if built_on in (run_id, run_id.encode()):  # bytes, or str from a client that decodes answers
        return None
    rebuilt = await rebuild_all(sessions, redis)
    await redis.set(BUILT_ON, run_id)
    return rebuilt
