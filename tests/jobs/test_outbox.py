"""After a confirmation commits, its follow-up work reaches RQ once and runs once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from rq.job import Job
from sqlalchemy import select, update

from assembly.settings import Settings
from assembly.worker.periodic_enqueuer import enqueue_due_jobs
from assembly.worker.rq_worker import PERIODIC_JOBS
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.db.models import OutboxMessage
from gateway.jobs import outbox
from gateway.jobs.queues import job_queue, sync_redis
from gateway.kit.keys import RELAY
from leaderboard.cache import cached_votes
from payments.sandbox import SandboxControl, create_sandbox_app
from tests.factories import make_contest, place
from tests.processes import alive, child_of
from tests.waiting import HANG_SECONDS, until


@pytest.fixture
def job_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Jobs read their settings from the environment, as they do in a worker process."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("REDIS_URL", settings.redis_url or "")
    return {**os.environ, "LOG_JSON": "false"}


async def relay(sessions: Sessions, settings: Settings) -> int:
    queue = job_queue(sync_redis(settings.redis_url or ""))
    return await outbox.relay_outbox(sessions, lambda ids: asyncio.to_thread(outbox.enqueue_deliveries, queue, ids))


def run_worker_burst(env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, "-m", "assembly.cli", "worker", "--burst", "--no-cron"],
                            env=env, capture_output=True, text=True, timeout=HANG_SECONDS)
    assert result.returncode == 0, result.stderr


async def test_relay_enqueues_each_row_once_even_after_a_crash(sessions: Sessions, settings: Settings,
                                                               redis: Redis) -> None:
    contest = await make_contest(sessions)
    order = await place(sessions, contest, quantity=2)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 200, "XAF", "t", provider=order.provider)
    assert await relay(sessions, settings) == 1
    assert await relay(sessions, settings) == 0
    # A crash after enqueueing but before marking the row: the next relay finds the job and skips it.
    async with sessions.begin() as session:
        await session.execute(update(OutboxMessage).values(enqueued_at=None))
    assert await relay(sessions, settings) == 1
    assert await redis.llen("rq:queue:default") == 1
    assert Job.exists(outbox.delivery_job_id(1), connection=sync_redis(settings.redis_url or ""))


async def test_a_delivery_job_redis_lost_is_queued_again_and_one_still_there_is_not(
    sessions: Sessions, settings: Settings, redis: Redis
) -> None:
    """Redis fails over to a replica that never got the delivery's job (a receipt, say): the row, handed over and
    never delivered, is handed over again once it is overdue; a job Redis still holds is not made twice."""
    contest = await make_contest(sessions)
    order = await place(sessions, contest, quantity=2)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 200, "XAF", "t", provider=order.provider)
    assert await relay(sessions, settings) == 1
    queue = job_queue(sync_redis(settings.redis_url or ""))

    async def enqueue(ids: list[int]) -> int:
        return await asyncio.to_thread(outbox.enqueue_deliveries, queue, ids)

    later = datetime.now(UTC) + outbox.LOST_AFTER + timedelta(seconds=1)
    assert await outbox.relay_lost(sessions, enqueue, now=later) == 0  # its job is still in Redis: left alone
    assert await outbox.relay_lost(sessions, enqueue) == 0  # not overdue yet
    await redis.flushdb()  # the promoted replica never had it
    # overdue again since it was last looked at (a look puts a row at the back of the line)
    assert await outbox.relay_lost(sessions, enqueue, now=later + outbox.LOST_AFTER + timedelta(seconds=1)) == 1
    assert Job.exists(outbox.delivery_job_id(1), connection=queue.connection)
    assert await redis.llen("rq:queue:default") == 1


async def test_a_delivered_message_is_not_handled_again(sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    order = await place(sessions, contest)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 100, "XAF", "t", provider=order.provider)
    calls: list[dict[str, object]] = []

    async def handler(payload: dict[str, object]) -> None:
        calls.append(payload)

    results = [await outbox.deliver(sessions, 1, {"vote.confirmed": handler}) for _ in range(3)]
    assert results == [True, False, False]
    assert calls == [{"order_id": str(order.id), "contest_id": contest.id}]


async def test_worker_delivers_confirmation_to_the_leaderboard_cache(
    sessions: Sessions, settings: Settings, redis: Redis, job_env: dict[str, str]
) -> None:
    contest = await make_contest(sessions)
    for code, quantity in (("01", 3), ("02", 5), ("01", 1)):
        order = await place(sessions, contest, code, quantity)
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", None,
                                       provider=order.provider)
    await relay(sessions, settings)
    await asyncio.to_thread(run_worker_burst, job_env)
    board = await cached_votes(redis, contest.id)
    assert sorted(board.values(), reverse=True)[:2] == [5, 4]
    assert int(await redis.get(f"leaderboard:{contest.id}:version") or 0) >= 1
    async with sessions() as session:
        undelivered = await session.scalars(select(OutboxMessage).where(OutboxMessage.delivered_at.is_(None)))
        assert undelivered.all() == []


async def test_web_process_updates_the_board_itself_right_after_a_kick(
    client: TestClient, sessions: Sessions, redis: Redis
) -> None:
    contest = await make_contest(sessions)
    for quantity in (2, 3):
        order = await place(sessions, contest, "02", quantity)
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", None,
                                       provider=order.provider)
    client.app[RELAY].kick()

    async def delivered() -> list[bool]:
        async with sessions() as session:
            return [row.delivered_at is not None for row in (await session.scalars(select(OutboxMessage))).all()]

    for _ in range(100):  # the board moves first, then the rows are marked delivered: wait for both
        if sum((await cached_votes(redis, contest.id)).values()) == 5 and all(await delivered()):
            break
        await asyncio.sleep(0.02)
    assert sum((await cached_votes(redis, contest.id)).values()) == 5
    assert await redis.llen("rq:queue:default") == 0  # no job needed for a board refresh
    assert await delivered() == [True, True]


async def test_periodic_jobs_are_enqueued_once_per_slot_and_run(
    sessions: Sessions, settings: Settings, redis: Redis, job_env: dict[str, str]
) -> None:
    queue = job_queue(sync_redis(settings.redis_url or ""))
    now = 1_800_000_000.0
    # relay, the requeue of deliveries Redis lost (every 60 s), reconcile, the Stars check (every 60 s), the
    # verification of Stars payments by Telegram's list (30 s), the refunds and payouts passes (30 s each), the money
    # check (hourly), the ledger's checkpoints (every 300 s), the media sweep (300 s), the learning of shared addresses
    # (600 s), the SMS backstop (60 s) and the pruning of old Telegram updates (hourly): the channels' own passes;
    # and M-Pesa's registration of its paybills' URLs (300 s) and reading of their
    # statements (60 s), the provider's own; and the refunds of payments that came after the lines closed (30 s)
    assert enqueue_due_jobs(queue, PERIODIC_JOBS, now) == 16
    assert enqueue_due_jobs(queue, PERIODIC_JOBS, now + 0.5) == 0  # a second scheduler in the same slot adds nothing
    assert enqueue_due_jobs(queue, PERIODIC_JOBS, now + 10) == 2  # only relay and reconcile have a new slot
    contest = await make_contest(sessions)
    order = await place(sessions, contest, quantity=4)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 400, "XAF", None, provider=order.provider)
    # The money check among them reads MTN's balances: the sandbox answers at once, where a port nobody listens on
    # held it 12 s (MTN's client tries each call again and again).
    async with TestServer(create_sandbox_app(SandboxControl())) as sandbox:
        env = {**job_env, "SANDBOX_URL": str(sandbox.make_url("")).rstrip("/")}
        await asyncio.to_thread(run_worker_burst, env)  # runs the periodic relay, then the delivery it enqueued
    assert await redis.llen("rq:queue:default") == 0
    assert sum((await cached_votes(redis, contest.id)).values()) == 4


async def test_a_worker_killed_with_sigkill_leaves_no_periodic_enqueuer_behind(job_env: dict[str, str]) -> None:
    """Its replacement starts its own; an orphan would go on enqueuing for ever (and pile up, one per kill).
    The kill comes as soon as the enqueuer exists, before it has even finished importing."""
    worker = subprocess.Popen([sys.executable, "-m", "assembly.cli", "worker"], env=job_env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await until(lambda: child_of(worker.pid, "multiprocessing.spawn") is not None, timeout=20)
        enqueuer = child_of(worker.pid, "multiprocessing.spawn")
        assert enqueuer is not None
        worker.kill()
        worker.wait(timeout=10)
        await until(lambda: not alive(enqueuer), timeout=30)  # it may still be importing: a loaded machine's time
    finally:  # whatever else the worker started (RQ's scheduler) goes with its group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)



async def test_deliveries_queued_by_the_former_releases_are_delivered_after_the_upgrade(
    sessions: Sessions, settings: Settings, redis: Redis, job_env: dict[str, str]
) -> None:
    """Releases before queued the worker's functions by their path (`gateway.worker_jobs.*`, then
    `assembly.worker_jobs.*`, then the one entry point of passes, `assembly.passes.pass_job`): what they left in the
    queue (a delivery, one waiting for its retry) still runs on a worker of this release, as the pass it became."""
    contest = await make_contest(sessions)
    for quantity in (2, 3, 4, 5):
        order = await place(sessions, contest, "02", quantity)
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", None,
                                       provider=order.provider)
    queue = job_queue(sync_redis(settings.redis_url or ""))
    queue.enqueue("gateway.worker_jobs.deliver_outbox_job", 1, job_id=outbox.delivery_job_id(1))
    queue.enqueue_in(timedelta(seconds=0), "gateway.worker_jobs.deliver_outbox_job", 2,
                     job_id=outbox.delivery_job_id(2))  # as a retry waits in the scheduled registry
    queue.enqueue("assembly.worker_jobs.deliver_outbox_job", 3, job_id=outbox.delivery_job_id(3))
    queue.enqueue("assembly.passes.pass_job", outbox.DELIVER_PASS, 4, job_id=outbox.delivery_job_id(4))
    # One burst: RQ's scheduler moves the due retry onto the queue as the burst starts, before it takes a job.
    await asyncio.to_thread(run_worker_burst, job_env)
    async with sessions() as session:
        undelivered = (await session.scalars(select(OutboxMessage.id).where(OutboxMessage.delivered_at.is_(None))))
        assert undelivered.all() == []
    assert sum((await cached_votes(redis, contest.id)).values()) == 14
