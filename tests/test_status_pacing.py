"""Status calls paced under a provider's cap across processes, through real Redis."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass

from redis.asyncio import Redis

from gateway.config import Settings
from gateway.status_pacing import StatusPacer


@dataclass
class CappedProvider:
    name: str = "mtn"
    status_calls_per_second: float | None = 5


async def calls_per_second(pacer: StatusPacer, provider: CappedProvider, calls: int) -> Counter[int]:
    async def one() -> int:
        await pacer.wait_turn(provider)  # type: ignore[arg-type]
        return int(time.time())

    return Counter(await asyncio.gather(*(one() for _ in range(calls))))


async def test_two_processes_together_never_exceed_the_providers_cap(redis: Redis, settings: Settings) -> None:
    provider = CappedProvider()
    other_process = Redis.from_url(settings.redis_url or "")  # its own connections, as another process has
    web, other_web = StatusPacer(redis), StatusPacer(other_process)
    first, second = await asyncio.gather(calls_per_second(web, provider, 6), calls_per_second(other_web, provider, 6))
    await other_process.aclose()
    together = first + second
    assert sum(together.values()) == 12
    assert max(together.values()) <= 5  # what MTN would answer 429 to never leaves


async def test_the_reconciler_gets_only_its_share_and_uncapped_providers_are_not_held(redis: Redis) -> None:
    polling = StatusPacer(redis, share=0.5)
    assert max((await calls_per_second(polling, CappedProvider(), 5)).values()) <= 2
    started = time.monotonic()
    await calls_per_second(polling, CappedProvider(name="stripe", status_calls_per_second=None), 50)
    assert time.monotonic() - started < 0.5


async def test_without_redis_status_calls_go_unpaced_rather_than_stall() -> None:
    gone = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    started = time.monotonic()
    await StatusPacer(gone).wait_turn(CappedProvider())  # type: ignore[arg-type]
    assert time.monotonic() - started < 2
    await gone.aclose()
