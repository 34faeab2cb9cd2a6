"""A loop of ours that talks to Redis stops when it is cancelled, at whatever step of a command the cancel finds it:
a process's loops are stopped that way at its shutdown and in a rolling restart, and one that ran on would hold the
process until the supervisor kills it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from assembly.settings import Settings
from gateway.jobs.redis_connections import async_client, bounded_async_client

STEPS = 40  # event-loop steps after the start at which a cancel comes: a command's send, its read, the next one's


async def stops_when_cancelled(client: Redis, steps: int) -> bool:
    async def polling() -> None:
        while True:
            await client.get("ballot:test:poll")

    task = asyncio.ensure_future(polling())
    for _ in range(steps):
        await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait({task}, timeout=5)  # a kept cancel ends it in milliseconds; this bounds a lost one
    stopped = task.done()
    while not task.done():  # cancels again until one is kept, to end it and report
        task.cancel()
        await asyncio.wait({task}, timeout=0.01)
    return stopped and task.cancelled()


@pytest.mark.parametrize("make", [
    lambda url: async_client(url),
    lambda url: bounded_async_client(url, max_connections=4, timeout=5, health_check_interval=30),
], ids=["jobs", "web"])
async def test_a_loop_on_redis_stops_at_its_first_cancel_at_any_step(
        make: Callable[[str], Redis], settings: Settings, redis: Redis) -> None:
    client = make(settings.redis_url or "")
    try:
        await client.ping()  # connected, as a running process's client is
        ran_on = [steps for steps in range(STEPS) if not await stops_when_cancelled(client, steps)]
    finally:
        await client.aclose()
    assert ran_on == []
