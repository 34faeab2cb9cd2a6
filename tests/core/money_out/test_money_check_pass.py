"""The money check as the worker runs it, from money out's own folder: a day read once through the resources every
pass is given (the providers, the pace of their status calls, the small store shared by every worker), the balances
once an hour; the store is Redis, under the keys the releases before kept, so an upgrade reads no day twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from assembly.settings import Settings
from assembly.worker.job_runtime import JobContext
from assembly.worker.passes import PASSES_BY_NAME, run_pass
from gateway.core.money_out.passes import BALANCES_READ
from gateway.db.engine import Sessions
from gateway.jobs.last_passes import pass_ages
from gateway.jobs.pass_notes import RedisNotes
from tests.core.money_out.money_day import Mtn


async def test_the_money_check_pass_reads_yesterday_once_and_notes_it(sessions: Sessions, settings: Settings,
                                                                       redis: Redis, mtn: Mtn) -> None:
    day = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    notes = RedisNotes(redis)
    for provider in mtn.registry.names():
        await notes.forget(f"money-check:{provider}:{day}")
    await notes.forget(BALANCES_READ)
    context = JobContext(settings, sessions, redis, mtn.registry)
    first = await run_pass(context, PASSES_BY_NAME["money-check"])
    assert f"mtn {day}: 0 checked, no difference" in first
    assert await notes.read(f"money-check:mtn:{day}") == "1" and await notes.read(BALANCES_READ) == "1"
    assert await run_pass(context, PASSES_BY_NAME["money-check"]) == f"{day} read already"
    assert (await pass_ages(redis, ("money-check",)))["money-check"] is not None  # its age, watched


async def test_a_note_is_kept_for_its_time_then_forgotten(redis: Redis) -> None:
    notes = RedisNotes(redis)
    await notes.keep("test-note", "where it stopped", 60)
    assert await notes.read("test-note") == "where it stopped" and 0 < await redis.ttl("test-note") <= 60
    await notes.forget("test-note")
    assert await notes.read("test-note") is None
