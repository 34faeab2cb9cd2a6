"""A relay pass's rows reach the workers in a few jobs, not one each: on show night every SMS and USSD vote leaves a
receipt, and a job per receipt cost a worker as much in RQ's bookkeeping as the receipt itself. A row that fails in
its batch is retried alone, and the others are not held or sent twice."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import pytest
from redis.asyncio import Redis
from rq.job import Job
from sqlalchemy import select

from assembly.settings import Settings
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OutboxMessage
from gateway.jobs import outbox
from gateway.jobs.queues import job_queue, sync_redis
from leaderboard.cache import cached_votes
from tests.factories import make_contest, place
from tests.waiting import HANG_SECONDS

VOTES = 120  # three batches: 50, 50 and 20 rows


async def counted(sessions: Sessions, contest: Contest, votes: int) -> None:
    for n in range(votes):
        order = await place(sessions, contest, "01", 1, msisdn=f"+23767{n:07d}")
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", None,
                                       provider=order.provider)


async def undelivered(sessions: Sessions) -> list[int]:
    async with sessions() as session:
        return list(await session.scalars(select(OutboxMessage.id).where(OutboxMessage.delivered_at.is_(None))))


async def test_a_relay_pass_hands_its_rows_over_in_batches_a_worker_delivers_once(
        sessions: Sessions, settings: Settings, redis: Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    contest = await make_contest(sessions)
    await counted(sessions, contest, VOTES)
    queue = job_queue(sync_redis(settings.redis_url or ""))

    async def relay() -> int:
        return await outbox.relay_outbox(sessions, lambda ids: asyncio.to_thread(outbox.enqueue_delivery_batches,
                                                                                 queue, ids))

    assert await relay() == VOTES
    assert await redis.llen("rq:queue:default") == 3
    assert await relay() == 0  # handed over once
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("REDIS_URL", settings.redis_url or "")
    worker = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "assembly.cli", "worker", "--burst",
                                                      "--no-cron"], env={**os.environ, "LOG_JSON": "false"},
                                     capture_output=True, text=True, timeout=HANG_SECONDS)
    assert worker.returncode == 0, worker.stderr
    assert await undelivered(sessions) == []
    assert sum((await cached_votes(redis, contest.id)).values()) == VOTES
    assert await redis.llen("rq:queue:default") == 0


async def test_a_row_that_fails_in_its_batch_is_retried_alone_and_holds_no_other(
        sessions: Sessions, settings: Settings) -> None:
    contest = await make_contest(sessions)
    await counted(sessions, contest, 5)
    queue = job_queue(sync_redis(settings.redis_url or ""))
    sent: list[str] = []

    async def receipt(payload: dict[str, Any]) -> None:
        if payload["order_id"] == failing:
            raise ConnectionError("the SMS gateway refused it")
        sent.append(payload["order_id"])

    async with sessions() as session:
        rows = (await session.execute(select(OutboxMessage.id, OutboxMessage.payload)
                                      .where(OutboxMessage.topic == "vote.confirmed").order_by(OutboxMessage.id))).all()
    ids, failing = [row.id for row in rows], rows[2].payload["order_id"]

    async def alone(outbox_ids: list[int]) -> int:
        return await asyncio.to_thread(outbox.enqueue_deliveries, queue, outbox_ids)

    handlers = {"vote.confirmed": receipt}
    assert await outbox.deliver_batch(sessions, ids, handlers, alone) == 4
    assert Job.exists(outbox.delivery_job_id(ids[2]), connection=queue.connection)  # its own job, with retries
    assert not any(Job.exists(outbox.delivery_job_id(i), connection=queue.connection) for i in ids if i != ids[2])
    assert ids[2] in await undelivered(sessions)
    assert await outbox.deliver_batch(sessions, ids, handlers, alone) == 0  # the batch run again: nothing twice
    assert len(sent) == 4 and len(set(sent)) == 4


async def test_a_batch_past_its_time_hands_the_rest_on_alone(sessions: Sessions, settings: Settings) -> None:
    """A provider timing out on every receipt must not hold fifty behind one worker past RQ's time-out."""
    contest = await make_contest(sessions)
    await counted(sessions, contest, 3)
    queue = job_queue(sync_redis(settings.redis_url or ""))
    ids = await undelivered(sessions)

    async def alone(outbox_ids: list[int]) -> int:
        return await asyncio.to_thread(outbox.enqueue_deliveries, queue, outbox_ids)

    assert await outbox.deliver_batch(sessions, ids, {}, alone, seconds=-1.0) == 0
    assert all(Job.exists(outbox.delivery_job_id(i), connection=queue.connection) for i in ids)


async def test_a_row_committed_late_between_a_crashed_relays_rows_is_handed_over_at_once(
        sessions: Sessions, settings: Settings) -> None:
    """Rows commit out of id order: a relay that crashed after enqueueing [first, last] and found a row committed
    between them on its next pass hands that row over in a new job, not minutes later."""
    queue = job_queue(sync_redis(settings.redis_url or ""))
    async with sessions.begin() as session:
        first = OutboxMessage(topic="vote.confirmed", payload={"order_id": "first"})
        session.add(first)
    late_session = sessions()
    late = OutboxMessage(topic="vote.confirmed", payload={"order_id": "late"})
    late_session.add(late)
    await late_session.flush()  # its id taken, its transaction not committed
    async with sessions.begin() as session:
        last = OutboxMessage(topic="vote.confirmed", payload={"order_id": "last"})
        session.add(last)
    assert first.id < late.id < last.id

    async def crashing(ids: list[int]) -> int:
        await asyncio.to_thread(outbox.enqueue_delivery_batches, queue, ids)
        raise ConnectionError("the relay's process died before it marked its rows")

    with pytest.raises(ConnectionError):
        await outbox.relay_queued(sessions, crashing)
    await late_session.commit()
    await late_session.close()
    assert await outbox.relay_queued(sessions, lambda ids: asyncio.to_thread(
        outbox.enqueue_delivery_batches, queue, ids)) == 3
    in_jobs = {row for job in queue.get_jobs() for row in job.args[-1]}
    assert late.id in in_jobs
