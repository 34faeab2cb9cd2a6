"""After a Redis failover the promoted replica holds the boards as the old master last sent them, which may lack its
last votes: the worker's relay pass sees that the boards are on another server and rebuilds them from PostgreSQL,
even for a contest that takes no vote afterwards; on the same server it does nothing."""

from __future__ import annotations

from redis.asyncio import Redis

from gateway.core.orders import counting
from gateway.db.engine import Sessions
from leaderboard.cache import cached_votes, refresh_contest
from leaderboard.rebuild import BUILT_ON, follow_redis
from tests.factories import make_contest, place


async def test_boards_left_stale_by_a_failover_are_rebuilt_once_and_only_then(sessions: Sessions,
                                                                              redis: Redis) -> None:
    contest = await make_contest(sessions)
    first = await place(sessions, contest, quantity=2)
    await counting.confirm_payment(sessions, first.id, "SUCCESSFUL", 200, "XAF", "t", provider=first.provider)
    assert await follow_redis(sessions, redis) is not None  # never built on this server: built now
    assert await follow_redis(sessions, redis) is None  # same server: nothing to do
    stale = await cached_votes(redis, contest.id)
    # The old master counted 3 more votes and lost them with its host: its board never reached the replica.
    second = await place(sessions, contest, quantity=3)
    await counting.confirm_payment(sessions, second.id, "SUCCESSFUL", 300, "XAF", "t", provider=second.provider)
    await redis.set(BUILT_ON, "the-old-master's-run-id")  # as the promoted replica holds the key
    assert await cached_votes(redis, contest.id) == stale
    rebuilt = await follow_redis(sessions, redis)
    assert rebuilt is not None and contest.slug in rebuilt
    assert sum((await cached_votes(redis, contest.id)).values()) == 5
    assert await follow_redis(sessions, redis) is None


async def test_a_board_refreshed_after_the_failover_is_not_rebuilt_backwards(sessions: Sessions, redis: Redis) -> None:
    """A refresh of the new master's board may land before the pass: the rebuild then puts the same tallies under a
    newer version, never fewer votes."""
    contest = await make_contest(sessions)
    order = await place(sessions, contest, quantity=4)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 400, "XAF", "t", provider=order.provider)
    before = await refresh_contest(sessions, redis, contest.id)
    await redis.set(BUILT_ON, "the-old-master's-run-id")
    await follow_redis(sessions, redis)
    assert sum((await cached_votes(redis, contest.id)).values()) == 4
    assert int(await redis.get(f"leaderboard:{contest.id}:version") or 0) > before
