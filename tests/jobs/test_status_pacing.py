"""Status calls paced under a provider's cap across processes, through real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from assembly.settings import Settings
from gateway.kit.paced_turns import LATE_TURNS_RETAKEN, TAKE_SPARE_TURN, PacedTurns
from gateway.kit.status_pacing import SHARE, StatusPacer, reconciler_pace, spare_pace
from tests.network import redis_relay
from tests.payments.capped_gateway import most_in_any_second

TAKE_SPARE_SHA = hashlib.sha1(TAKE_SPARE_TURN.encode()).hexdigest()


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
    here, there = StatusPacer(redis), StatusPacer(other_process)
    first, second = await asyncio.gather(call_times(here.wait_turn, provider, 8),
                                         call_times(there.wait_turn, provider, 8))
    await other_process.aclose()
    # 90% of MTN's 10, evenly spaced: never over it, but for a call a stalling process let go off its turn (and said so)
    assert most_in_any_second(first + second) <= 10 + here.went_off_turn + there.went_off_turn


async def test_verifications_take_only_the_turns_pending_orders_checks_leave(redis: Redis) -> None:
    """A voter waiting goes first: a backlog of verifications delays the reconciler's checks by a turn at most, and
    has every turn they leave."""
    provider = CappedProvider()
    verifying = asyncio.create_task(call_times(spare_pace(redis), provider, 20))  # 2 s of backlog, asking first
    checked = await call_times(reconciler_pace(redis), provider, 18)  # 2 s of checks, every turn
    verified = await verifying
    assert sum(1 for at in verified if at < max(checked)) <= 2  # the turn free as they came, a stalled one at most
    assert most_in_any_second(checked + verified) <= 10


class CountedRedis(Redis):
    """A process's Redis client that counts its asks to take a spare turn."""

    spare_looks = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if args[:2] == ("EVALSHA", TAKE_SPARE_SHA):
            self.spare_looks += 1
        return await super().execute_command(*args, **options)


async def test_verifications_in_two_processes_find_their_spare_turns_in_a_look_or_two_within_the_cap(
        settings: Settings) -> None:
    """Four verifications at once in each of two processes, on a free schedule at 90% of a cap of 20 a second (as
    the service runs a provider's): each turn costs Redis a look or two, not one per waiting call, and together they
    stay within the cap."""
    processes = [CountedRedis.from_url(settings.redis_url or "") for _ in range(2)]
    await processes[0].delete("pace:status:mtn", "pace:status:mtn:spare")
    pacers = [PacedTurns(client) for client in processes]
    turns_taken: list[float] = []

    async def verifying(pacer: PacedTurns) -> None:
        while len(turns_taken) < 60:
            await pacer.wait_for_spare("pace:status:mtn", 20 * SHARE, patience=20)
            turns_taken.append(time.monotonic())

    await asyncio.gather(*(verifying(pacers[n % 2]) for n in range(8)))
    looks = sum(client.spare_looks for client in processes)
    for client in processes:
        await client.aclose()
    # Each process's one looking call and the other's, racing for the turn as it frees; eight looks a turn before.
    assert looks / len(turns_taken) <= 4
    assert most_in_any_second(turns_taken) <= 20


async def test_a_spare_turn_taken_moments_after_it_freed_keeps_the_schedules_cadence(redis: Redis) -> None:
    """A verification's look comes a few ms after the turn it finds freed (its timer, the round trip, a busy loop).
    The next turn stays a spacing after the freed one, so the turns do not drift later a look at a time (8.8 of a
    schedule's 9 turns a second taken when they drifted, 9.0 with the cadence kept). After a long idle, the next call
    still waits 95% of a spacing."""
    turns = PacedTurns(redis)

    async def redis_ms() -> int:
        seconds, micros = await redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    # One call every 10 s: the cadence is kept for a look up to half a second late, however busy the machine.
    freed = await redis_ms() - 20
    await redis.set("pace:cadence", freed)
    await turns.wait_for_spare("pace:cadence", 0.1, patience=5)
    assert int(await redis.get("pace:cadence") or 0) == freed + 10_000

    before = await redis_ms()
    await redis.set("pace:idle", before - 3_000)  # freed 3 s ago: the schedule was idle
    await turns.wait_for_spare("pace:idle", 0.1, patience=5)
    after = await redis_ms()
    assert before + 9_500 <= int(await redis.get("pace:idle") or 0) <= after + 9_500


async def test_a_call_that_can_wait_queues_after_its_patience_rather_than_wait_for_ever() -> None:
    """Pending orders' checks asking for every turn for as long as they like: a verification still goes."""
    turns = PacedTurns(None)

    async def always_asking() -> None:
        while True:
            await turns.wait("pace:status:mtn", 10)

    askers = [asyncio.create_task(always_asking()) for _ in range(5)]
    await asyncio.sleep(0)  # each takes its first turn
    started = time.monotonic()
    await turns.wait_for_spare("pace:status:mtn", 10, patience=0.5)
    waited = time.monotonic() - started
    for asker in askers:
        asker.cancel()
    await asyncio.gather(*askers, return_exceptions=True)
    # Its patience, then its turn behind the five held (~1 s); on a machine late to every turn, a few turns more.
    # Waiting for ever is what fails.
    assert 0.5 <= waited < 10


async def test_uncapped_providers_are_not_held_and_without_redis_a_process_paces_alone() -> None:
    gone = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    started = time.monotonic()
    await call_times(StatusPacer(gone).wait_turn, CappedProvider(name="stripe", status_calls_per_second=None), 50)
    assert time.monotonic() - started < 3  # 50 calls paced at 9 a second would take 5.5 s
    times = await call_times(StatusPacer(gone).wait_turn, CappedProvider(), 5)
    assert most_in_any_second(times) <= 10  # still spaced (9 a second), by this process alone
    await gone.aclose()


async def test_with_redis_hung_a_status_call_waits_for_redis_once_then_paces_alone() -> None:
    """Redis takes the connection and answers nothing: the call gives up on Redis once and takes this process's own
    turn, rather than count its wait for Redis as lateness and ask the silent Redis again for a new turn."""
    held: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(lambda reader, writer: held.append(writer), "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    hung = Redis.from_url(f"redis://127.0.0.1:{port}", socket_timeout=0.3)
    with contextlib.suppress(RedisError):
        await hung.ping()
    assert len(held) == 1  # a connection a try: redis-py drops the one that timed out
    await StatusPacer(hung).wait_turn(CappedProvider())
    assert len(held) == 2  # asked once, not again for each turn it would have counted late
    await hung.aclose()
    for writer in held:
        writer.close()
    silent.close()
    await silent.wait_closed()


async def test_calls_late_to_every_turn_go_at_last_and_say_so_once_a_minute_with_how_many(
        redis: Redis, settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    """Each answer takes 20 ms, more than half the 10 ms between turns: every turn is past before its call can know
    it has it. Each call takes a new turn a few times, then goes; the first warns that calls left off their turns (an
    operator then knows why the provider may have refused a burst), the others are counted into the next line rather
    than each writing one, at the provider's cap, for as long as the machine stalls."""
    caplog.set_level(logging.WARNING, "gateway.kit.paced_turns")
    link, url = await redis_relay(settings.redis_url or "")
    link.answer_delay = 0.02  # a slow link
    slow = Redis.from_url(url)
    await slow.ping()  # the connection made before the turns are asked for
    turns = PacedTurns(slow)
    for _ in range(3):
        await asyncio.wait_for(turns.wait("pace:slow-link-test", 100), timeout=30)
    await slow.aclose()
    await link.close()
    assert turns.went_off_turn["pace:slow-link-test"] == 3
    gone = [record.getMessage() for record in caplog.records if "went off their turns" in record.getMessage()]
    assert gone == [f"paced turns: calls on pace:slow-link-test came late to {LATE_TURNS_RETAKEN + 1} turns in a row "
                    "(the process is stalling) and went off their turns (calls since this was last said: 1)"], (
        caplog.text)


async def test_pacing_without_redis_is_said_once_a_minute_and_its_end_once_with_the_asks_that_failed(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "gateway.kit.paced_turns")
    link, url = await redis_relay(settings.redis_url or "")
    link.refusing = True  # Redis's host gone
    away = Redis.from_url(url, socket_connect_timeout=0.2)
    turns = PacedTurns(away)
    for _ in range(5):
        await turns.wait("pace:no-redis-test", 100)
    link.refusing = False
    await turns.wait("pace:no-redis-test", 100)
    await away.aclose()
    await link.close()
    # What is said of Redis (a machine whose cores are all busy may also say the calls came late to their turns).
    said = [record.getMessage() for record in caplog.records
            if record.name == "gateway.kit.paced_turns" and "Redis" in record.getMessage()]
    assert said[0] == ("paced turns: Redis unavailable, pacing pace:no-redis-test in this process only (asks of Redis "
                       "that failed since this was last said: 1)")
    back = re.fullmatch(r"paced turns: Redis answers again for pace:no-redis-test \(asks of Redis that failed since "
                        r"the last line: (\d+)\)", said[1])
    assert len(said) == 2 and back is not None, said
    assert int(back[1]) >= 4  # a wait or more each (a call woken late asks again)
