"""Status calls paced under a provider's cap across processes, through real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from assembly.settings import Settings
from gateway.kit.status_pacing import StatusPacer, reconciler_pace
from tests.payments.capped_gateway import most_in_any_second


@dataclass
class CappedProvider:
    name: str = "mtn"
    status_calls_per_second: float | None = 10


async def call_times(wait_turn: object, provider: CappedProvider, calls: int) -> list[float]:
    async def one() -> float:
        await wait_turn(provider)  # type: ignore[operator]
        return time.monotonic()

    return list(await asyncio.gather(*(one() for _ in range(calls))))


async def test_two_processes_together_keep_under_the_cap_in_every_second(redis: Redis, settings: Settings) -> None:
    provider = CappedProvider()
    other_process = Redis.from_url(settings.redis_url or "")  # its own connections, as another process has
    first, second = await asyncio.gather(call_times(StatusPacer(redis).wait_turn, provider, 8),
                                         call_times(StatusPacer(other_process).wait_turn, provider, 8))
    await other_process.aclose()
    assert most_in_any_second(first + second) <= 8  # checks get 70% of MTN's 10, evenly spaced


async def test_the_reconciler_has_its_own_part_of_the_cap_and_is_never_queued_behind_checks(redis: Redis) -> None:
    provider = CappedProvider()
    checks = asyncio.gather(*(StatusPacer(redis).wait_turn(provider) for _ in range(40)))  # 5 s of backlog
    started = time.monotonic()
    polled = await call_times(reconciler_pace(redis), provider, 2)
    # Its two turns come within a second (2 a second), backlog or not; queued behind the checks they would take ~5 s.
    # The margin up to 2.5 s is for a machine busy with other tests (seen: 1.2 s with three pytest processes).
    assert max(polled) - started < 2.5
    await checks


async def test_uncapped_providers_are_not_held_and_without_redis_a_process_paces_alone() -> None:
    gone = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    started = time.monotonic()
    await call_times(StatusPacer(gone).wait_turn, CappedProvider(name="stripe", status_calls_per_second=None), 50)
    assert time.monotonic() - started < 0.5
    times = await call_times(StatusPacer(gone).wait_turn, CappedProvider(), 5)
    assert most_in_any_second(times) <= 8  # still spaced (7 a second), by this process alone
    await gone.aclose()


async def test_with_redis_hung_a_status_call_waits_for_redis_once_then_paces_alone() -> None:
    """Redis takes the connection and answers nothing: the call gives up on Redis once and takes this process's own
    turn, rather than count its wait for Redis as lateness and ask the silent Redis again for a new turn."""
    held: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(lambda reader, writer: held.append(writer), "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    hung = Redis.from_url(f"redis://127.0.0.1:{port}", socket_timeout=0.3)
    started = time.monotonic()
    with contextlib.suppress(RedisError):
        await hung.ping()
    one_try = time.monotonic() - started
    started = time.monotonic()
    await StatusPacer(hung).wait_turn(CappedProvider())
    assert time.monotonic() - started < 1.5 * one_try
    await hung.aclose()
    for writer in held:
        writer.close()
    silent.close()
    await silent.wait_closed()
