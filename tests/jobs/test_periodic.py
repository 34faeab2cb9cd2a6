"""The worker's periodic jobs (reconciler, relay safety net) keep running through Redis stalls and
the death of their enqueuer, and start again within seconds of a Redis outage's end: real worker processes, a real
Redis paused or stopped, the MTN sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from redis.exceptions import RedisError
from rq.job import JobStatus
from sqlalchemy import text

from assembly.machine.embedded import EmbeddedRedis
from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus
from gateway.jobs.last_passes import RELAY_INTERVAL_SECONDS
from gateway.jobs.queues import job_queue, sync_redis
from payments.sandbox import SandboxControl, create_sandbox_app
from tests.commands import command_env
from tests.factories import assert_tally_invariant, make_contest, tallies
from tests.fakes.mtn import vote
from tests.processes import alive, child_of
from tests.servers import free_port, redis_url_with_db, worker_redis_db
from tests.waiting import until

ENQUEUER = "multiprocessing.spawn"  # how the worker's periodic child shows in /proc
PAUSE_SECONDS = 8  # longer than redis-py's 5 s read time-out: the enqueuer's command fails, as in the incident


@pytest.fixture
async def pausable(clean: None, settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[Settings, Redis]]:
    """Settings and a client on a Redis this test may CLIENT PAUSE, which stops a whole server: the worker's own
    embedded one, or, when REDIS_URL is shared with other pytest-xdist workers, an embedded one of its own."""
    server = EmbeddedRedis(tmp_path) if os.environ.get("REDIS_URL") else None
    if server is not None:
        settings = settings.model_copy(update={"redis_url": redis_url_with_db(server.start(), worker_redis_db())})
    client = Redis.from_url(settings.redis_url or "")
    try:
        yield settings, client
    finally:
        await client.aclose()
        if server is not None:
            server.stop()


@pytest.fixture
async def sandboxed(pausable: tuple[Settings, Redis]) -> AsyncIterator[tuple[TestClient, dict[str, str]]]:
    """The app and the environment of a worker, both paying through the MTN sandbox, whose callbacks are lost."""
    settings, _ = pausable
    control = SandboxControl(success_delay=0.05, drop_callbacks=True)
    async with TestServer(create_sandbox_app(control)) as sandbox:
        urls = {"public_base_url": f"http://127.0.0.1:{free_port()}",
                "sandbox_url": str(sandbox.make_url("")).rstrip("/")}
        env = command_env(settings, **{name.upper(): value for name, value in urls.items()})
        async with TestClient(TestServer(create_app(settings.model_copy(update=urls)))) as client:
            yield client, env


@contextlib.contextmanager
def worker_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`gateway worker` with its periodic jobs; stopped as a process manager would, then its group killed."""
    with log.open("wb") as out:
        worker = subprocess.Popen([sys.executable, "-m", "assembly.cli", "worker"], env=env, start_new_session=True,
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        yield worker
    finally:
        worker.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)


async def periodic_jobs_running(redis: Redis, worker: subprocess.Popen[bytes]) -> int:
    """Wait until the worker's enqueuer has enqueued a reconciler pass and the worker has taken it; its pid."""
    await until(lambda: child_of(worker.pid, ENQUEUER) is not None, timeout=30)
    for _ in range(600):
        if await redis.keys("rq:job:periodic-reconcile-*") and not await redis.llen("rq:queue:default"):
            enqueuer = child_of(worker.pid, ENQUEUER)
            assert enqueuer is not None
            return enqueuer
        await asyncio.sleep(0.05)
    raise AssertionError("the worker's periodic jobs never ran")


async def set_age(sessions: Sessions, seconds: int) -> None:
    """Make every order that old: the reconciler asks about an order only 30 s after it was placed."""
    async with sessions.begin() as session:
        await session.execute(text("UPDATE vote_orders SET created_at = now() - make_interval(secs => :s)"),
                              {"s": seconds})


async def test_a_redis_pause_and_a_killed_enqueuer_do_not_stop_the_reconciler(
    sandboxed: tuple[TestClient, dict[str, str]], pausable: tuple[Settings, Redis], sessions: Sessions, tmp_path: Path
) -> None:
    """The incident: `CLIENT PAUSE` killed the periodic enqueuer and no reconciler pass ran again. Now the
    enqueuer waits the stall out (one log line), and a vote whose callback was lost is still counted. Then,
    whatever kills the enqueuer (the OOM killer, a stray kill -9), the worker starts another: reconciling goes on.
    (One worker for both: each start is seconds of CPU.)"""
    (client, env), (_, redis) = sandboxed, pausable
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=3)  # MTN takes the money; its callback never comes
    log = tmp_path / "worker.log"
    with worker_process(env, log) as worker:
        enqueuer = await periodic_jobs_running(redis, worker)
        await set_age(sessions, 0)  # not due before the pause: only a pass after it can count the vote
        await redis.execute_command("CLIENT", "PAUSE", PAUSE_SECONDS * 1000, "ALL")
        await paused_until_over(redis)
        await set_age(sessions, 25)  # due in 5 s
        for _ in range(600):
            if (await tables.get_order(sessions, order_id)).status is not OrderStatus.PENDING:
                break
            await asyncio.sleep(0.1)
        assert child_of(worker.pid, ENQUEUER) == enqueuer, log.read_text()  # it lived through the stall
        output = log.read_text()
        assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PAID, output
        await an_enqueuer_killed_is_started_again(redis, worker, enqueuer)
    assert (await tallies(sessions, contest.id))["01"] == 3
    await assert_tally_invariant(sessions, contest.id)
    output = log.read_text()
    assert output.count("periodic jobs cannot be enqueued") == 1, output  # one line per outage, not per try
    assert output.count("periodic jobs are enqueued again") == 1, output
    assert "the periodic enqueuer exited (code -9); starting another" in output


async def paused_until_over(redis: Redis) -> None:
    """Until the pause is over: it holds this client too, whose read times out meanwhile and is asked again."""
    for _ in range(2 * PAUSE_SECONDS):
        with contextlib.suppress(RedisError):
            await redis.ping()
            return
    raise AssertionError("Redis never answered again after its pause")


async def an_enqueuer_killed_is_started_again(redis: Redis, worker: subprocess.Popen[bytes], first: int) -> None:
    os.kill(first, signal.SIGKILL)
    await until(lambda: not alive(first), timeout=10)
    await until(lambda: child_of(worker.pid, ENQUEUER) not in (None, first), timeout=20)
    await redis.delete(*await redis.keys("rq:job:periodic-reconcile-*"))  # only a live enqueuer adds one
    await periodic_jobs_running(redis, worker)


class RestartableRedis:
    """An embedded Redis of the test's own, stopped and started again on its append-only file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.server = EmbeddedRedis(folder)
        self.url = self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server = EmbeddedRedis(self.folder)
        self.server.start()


@pytest.fixture
async def restartable(
    settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[RestartableRedis, Redis, dict[str, str]]]:
    """That Redis, a client of it, and a worker's environment on it, with the MTN sandbox up: the money check among
    the worker's first passes reads MTN's balances, which a port where nothing listens held 12 s (MTN's client tries
    each call again and again), before the test could begin and, were the check due again, after the outage."""
    server = RestartableRedis(tmp_path)
    client = Redis.from_url(server.url)
    try:
        async with TestServer(create_sandbox_app(SandboxControl())) as sandbox:
            yield server, client, command_env(settings, REDIS_URL=server.url,
                                              SANDBOX_URL=str(sandbox.make_url("")).rstrip("/"))
    finally:
        await client.aclose()
        server.stop()


async def reconciler_pass_after(client: Redis, back: float, worker: subprocess.Popen[bytes]) -> float:
    """When the reconciler first passed after `back` (Redis's return), waiting up to 30 s; before `back` if it did
    not, or if the worker ended."""
    passed = 0.0
    for _ in range(300):
        with contextlib.suppress(RedisError):
            passed = float(await client.get("periodic:last-pass:reconcile") or 0)
        if passed > back or worker.poll() is not None:
            break
        await asyncio.sleep(0.1)
    return passed


async def waiting_for_a_job(redis: Redis) -> None:
    """Until the worker waits for a job (RQ's state), with its queue empty, and the next periodic slot seconds away
    (every interval is a multiple of the relay's): Redis lost now is lost in that wait, where RQ's own back-off
    applies, not in a job, whose end a worker cannot write (`test_a_redis_outage_while_a_job_runs…`)."""
    for _ in range(600):
        between_slots = 1.5 < time.time() % RELAY_INTERVAL_SECONDS < 4
        states = [await redis.hget(key, "state") for key in await redis.smembers("rq:workers")]
        if between_slots and states == [b"idle"] and not await redis.llen("rq:queue:default"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the worker never waited for a job")


# RQ, left to itself, tries Redis again 1, 3, 7, 15 and 31 s after losing it (measured: Redis back after 16 s, it
# took a job 15 s later; after 32 s, 31 s later). Back after 16 s, Redis is back just after a try: RQ's next is 15 s
# away, ours (every 4 s at most) within seconds.
OUTAGE_SECONDS = 16
BACK_WITHIN = 12  # seconds from Redis's return to a reconciler pass: within our back-off and a pass, short of RQ's


async def test_after_a_redis_outage_the_reconciler_runs_again_within_seconds_of_its_return(
    restartable: tuple[RestartableRedis, Redis, dict[str, str]], tmp_path: Path
) -> None:
    """Redis killed while the worker waits for a job, then started again on its append-only file: the worker is
    back at work within seconds, not after RQ's own back-off (doubling up to a minute), which kept the reconciler
    and the receipts idle for up to a minute with Redis back."""
    server, client, env = restartable
    log = tmp_path / "worker.log"
    with worker_process(env, log) as worker:
        await periodic_jobs_running(client, worker)
        await waiting_for_a_job(client)
        server.stop()
        await asyncio.sleep(OUTAGE_SECONDS)  # the outage the test plays
        server.start()
        back = time.time()
        passed = await reconciler_pass_after(client, back, worker)
    assert back < passed < back + BACK_WITHIN, log.read_text()


def threads_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


ENDED = "the worker ended without being asked to"


async def slots_pass_taken_back(redis: Redis) -> None:
    """The reconciler's job of this slot, if it ran before a short outage, taken out: the enqueuer adds it again
    at once, rather than the next slot's up to 10 s on, and only a worker at work again runs it."""
    if jobs := await redis.keys("rq:job:periodic-reconcile-*"):
        await redis.delete(*jobs)


async def test_a_redis_outage_while_a_job_runs_does_not_end_the_worker(
    restartable: tuple[RestartableRedis, Redis, dict[str, str]], tmp_path: Path
) -> None:
    """Redis gone while the worker runs a job: the job's end cannot be written, and RQ, on that error outside the one
    call it retries, quits its loop. Left to that, a Redis restart at such a moment ended the worker for good (no
    reconciler, no receipts, until someone started it again). Now the worker takes up its queues again."""
    server, client, env = restartable
    log, done = tmp_path / "worker.log", tmp_path / "done"
    with worker_process(env, log) as worker:
        await periodic_jobs_running(client, worker)
        threads = threads_of(worker.pid)
        with sync_redis(server.url) as connection:
            job = job_queue(connection).enqueue("tests.fakes.worker_jobs.work_until", str(done))
            await until(lambda: job.get_status(refresh=True) == JobStatus.STARTED, timeout=20)
        server.stop()
        done.touch()  # the job ends while Redis is away: its end cannot be written
        await until(lambda: ENDED in log.read_text() or worker.poll() is not None, timeout=60)
        assert worker.poll() is None, log.read_text()
        server.start()
        back = time.time()
        await slots_pass_taken_back(client)
        passed = await reconciler_pass_after(client, back, worker)
        assert worker.poll() is None, log.read_text()
        # nor a thread of the dead worker's, listening on its channel for RQ's commands
        await until(lambda: threads_of(worker.pid) == threads, timeout=10)
    output = log.read_text()
    assert back < passed < back + 15, output
    assert output.count(ENDED) == 1, output
