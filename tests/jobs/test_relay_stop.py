"""A web process's outbox relay at shutdown: the process waits on it, so it must end, and within seconds; the pass
under way (a board refresh, its statements) finishes rather than being cut in the middle."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis

from assembly.settings import Settings
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.jobs.queues import job_queue, sync_redis
from gateway.jobs.relay import RelayLoop
from tests.factories import make_contest, place


async def test_the_relay_ends_even_when_a_pass_swallowed_its_cancellation(
        sessions: Sessions, settings: Settings, redis: Redis) -> None:
    """Some library in a pass catches a cancellation and goes on (asyncpg, a pool, a handler): the relay must not
    go on relaying for ever while the process's shutdown waits on it. Its pass under way finishes, and it ends."""
    contest = await make_contest(sessions)
    order = await place(sessions, contest, quantity=2)  # 200 XAF: its price, a vote confirmed
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 200, "XAF", "t", provider=order.provider)
    in_pass, finished, cut = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def swallowing(payloads: list[dict[str, Any]]) -> None:
        in_pass.set()
        try:
            await asyncio.sleep(0.5)
        except asyncio.CancelledError:  # caught and not passed on, as such code does
            cut.set()
        finished.set()

    relay = RelayLoop(sessions, job_queue(sync_redis(settings.redis_url or "")), {"vote.confirmed": swallowing},
                      interval=0.1)
    relay.start()
    relay.kick()
    async with asyncio.timeout(10):
        await in_pass.wait()
    async with asyncio.timeout(10):
        await relay.stop()
    assert finished.is_set() and not cut.is_set()  # the pass under way was let finish, not cut in the middle
