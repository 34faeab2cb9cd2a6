"""Faults that take seconds: the database dropping our connections, a provider down for a while,
and callbacks replayed long after. Each ends with the tally invariant."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.web.keys import STARTS
from assembly.worker.job_runtime import JobContext
from assembly.worker.worker_jobs import RECONCILE_LEASE, reconcile_pass
from gateway.core.money_in.reconciler import reconcile
from gateway.core.orders import counting, tables
from gateway.db import engine as database
from gateway.db.engine import Sessions, create_engine
from gateway.db.models import OrderStatus
from gateway.kit.keys import CHECKS, PROVIDERS
from tests.factories import assert_fault_end, count_orders, make_contest, place, tallies
from tests.fakes.mtn import FakeMtn, callback, reference_of, vote
from tests.network import postgres_relay, redis_relay
from tests.servers import free_port, kill_redis_clients
from tests.waiting import until

REDIS_READ_TIMEOUT_SECONDS = 5  # redis-py's default since 8.0


async def test_the_service_reconnects_after_postgres_drops_every_connection(
    client: TestClient, sessions: Sessions, engine: AsyncEngine, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    before = await vote(client, "gala", quantity=1)  # the app's pool now holds idle connections
    async with engine.connect() as connection:
        others = list(await connection.scalars(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")))
        killed = [pid for pid in others
                  if await connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})]
    assert killed
    await backends_gone(engine, killed)  # as after a restart: every pooled connection's server side is gone
    assert (await client.get("/readyz")).status == 200
    after = await vote(client, "gala", quantity=2)
    for order_id in (before, after):  # both payers approve: both callbacks are taken in and counted
        fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
        assert await callback(client, order_id, {"status": "SUCCESSFUL"}) == 200
    await client.app[CHECKS].wait_idle()
    assert (await tallies(sessions, contest.id))["01"] == 3
    await assert_fault_end(sessions, contest.id, {("callback.successful", "needs_check"): 2})


async def test_connections_killed_while_a_confirmation_waits_at_mtn_lose_nothing(
    client: TestClient, sessions: Sessions, engine: AsyncEngine, fake_mtn: FakeMtn
) -> None:
    """PostgreSQL restarts between a callback's intake and its confirmation: the confirmation runs
    on a fresh connection, and the vote counts once."""
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=2)
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    fake_mtn.statuses_held = asyncio.Event()
    assert await callback(client, order_id, {"status": "SUCCESSFUL"}) == 200
    await until(lambda: fake_mtn.status_calls == 1)  # the check is at MTN; its intake is committed
    async with engine.connect() as connection:
        pids = list(await connection.scalars(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")))
        killed = [pid for pid in pids if await connection.scalar(text("SELECT pg_terminate_backend(:p)"), {"p": pid})]
    assert killed
    await backends_gone(engine, killed)
    fake_mtn.statuses_held.set()
    await client.app[CHECKS].wait_idle()
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PAID
    assert (await tallies(sessions, contest.id))["01"] == 2
    await assert_fault_end(sessions, contest.id, {("callback.successful", "needs_check"): 1})


async def backends_gone(engine: AsyncEngine, pids: list[int]) -> None:
    """Wait until PostgreSQL has finished terminating those connections (it does so asynchronously)."""
    for _ in range(500):
        try:
            async with engine.connect() as connection:
                if not await connection.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                                               {"pids": pids}):
                    return
        except DBAPIError:  # the test's own pool may hand out one of the connections being terminated
            pass
        await asyncio.sleep(0.01)
    raise AssertionError("PostgreSQL did not terminate the connections")


@pytest.mark.parametrize("outage", ["down", "silent"])  # 503 to everything; or no answer (time-outs)
async def test_provider_out_for_a_minute_then_back_loses_nothing(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn, outage: str
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=2)
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    setattr(fake_mtn, outage, True)
    await callback(client, order_id, {"status": "SUCCESSFUL"})  # the check it asks for fails
    await client.app[CHECKS].wait_idle()
    during = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=40))
    assert during.outcomes["unreachable"] == 1
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PENDING
    setattr(fake_mtn, outage, False)
    # Back up: MTN sends its callback again while the reconciler's pass asks about the same order, and
    # both questions are at MTN at once (both hear SUCCESSFUL): the vote still counts once.
    asked, fake_mtn.statuses_held = fake_mtn.status_calls, asyncio.Event()
    passing = asyncio.create_task(
        reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=100)))
    try:
        assert await callback(client, order_id, {"status": "SUCCESSFUL"}) == 200
        await until(lambda: fake_mtn.status_calls == asked + 2)
    finally:
        fake_mtn.statuses_held.set()
    after = await passing
    await client.app[CHECKS].wait_idle()
    assert after.changed in ([(order_id, "counted")], [])  # whichever check came back first counted it
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PAID
    assert (await tallies(sessions, contest.id))["01"] == 2
    await assert_fault_end(sessions, contest.id, {("callback.successful", "needs_check"): 2})


async def test_an_outage_past_the_payment_window_keeps_the_order_until_the_provider_answers(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    """The payer approved in time and only our question failed: the vote counts once MTN answers."""
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=2)
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    fake_mtn.silent = True
    during = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=11))
    assert during.outcomes["unreachable"] == 1
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PENDING
    fake_mtn.silent = False
    after = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=40))
    assert after.changed == [(order_id, "counted")]
    assert (await tallies(sessions, contest.id))["01"] == 2
    await assert_fault_end(sessions, contest.id, {})


async def test_a_provider_silent_for_hours_expires_the_order_and_a_late_success_is_flagged(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    """Money taken after we gave up is never counted silently, nor lost: a person is asked to look."""
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=2)
    fake_mtn.silent = True
    report = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(hours=7))
    assert report.changed == [(order_id, "expired")]
    order = await tables.get_order(sessions, order_id)
    assert order.status is OrderStatus.EXPIRED
    assert order.status_reason == "the provider could not be asked about the payment for hours"
    fake_mtn.silent = False
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")  # the payer approved meanwhile
    await callback(client, order_id, {"status": "SUCCESSFUL"})
    await client.app[CHECKS].wait_idle()
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.FLAGGED
    assert (await tallies(sessions, contest.id))["01"] == 0
    await assert_fault_end(sessions, contest.id, {("callback.successful", "needs_check"): 1})


async def test_a_callback_replayed_hours_later_changes_nothing(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=3)
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    await callback(client, order_id, {"status": "SUCCESSFUL"})
    await client.app[CHECKS].wait_idle()
    async with sessions.begin() as session:  # hours pass
        await session.execute(text("UPDATE vote_orders SET decided_at = decided_at - interval '6 hours', "
                                   "created_at = created_at - interval '6 hours'"))
    asked = fake_mtn.status_calls
    await callback(client, order_id, {"status": "SUCCESSFUL"})
    await callback(client, uuid.uuid4(), {"status": "SUCCESSFUL"})
    await client.app[CHECKS].wait_idle()
    assert (await tallies(sessions, contest.id))["01"] == 3
    assert fake_mtn.status_calls == asked  # a decided order is not asked about again (MTN caps those calls)
    await assert_fault_end(sessions, contest.id, {("callback.successful", "needs_check"): 2,
                                                  ("callback.successful", "unknown_order"): 1})


async def age_orders(sessions: Sessions, seconds: int) -> None:
    """Make every order that old, as if its callback had been waited for that long."""
    async with sessions.begin() as session:
        await session.execute(text("UPDATE vote_orders SET created_at = created_at - make_interval(secs => :s)"),
                              {"s": seconds})


async def test_a_reconciler_pass_killed_mid_run_holds_the_next_one_back_for_one_short_lease(
    client: TestClient, sessions: Sessions, redis: Redis, settings: Settings, fake_mtn: FakeMtn
) -> None:
    """A worker SIGKILLed in the middle of a pass releases nothing: the lease it held must run out soon."""
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=2)
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")  # its callback is lost
    await age_orders(sessions, 40)
    ctx = JobContext(settings, sessions, redis, client.app[PROVIDERS])
    fake_mtn.statuses_held = asyncio.Event()  # the pass stops in the middle, at MTN
    running = asyncio.create_task(reconcile_pass(ctx))
    try:
        await until(lambda: fake_mtn.status_calls == 1)
        # Were the worker killed now, this is how long reconciling would stop: at most one 30 s lease
        # (the figure bench.faults and the README give; the lease is renewed while a pass runs).
        assert 0 < await redis.pttl(RECONCILE_LEASE) <= 30_000
        # Never two passes at once (a second one would wait at MTN too: the time limit says so at once).
        assert await asyncio.wait_for(reconcile_pass(ctx), 5) == "another pass is running"
    finally:
        fake_mtn.statuses_held.set()
    assert "1 counted" in await running
    assert await redis.exists(RECONCILE_LEASE) == 0  # a pass that ends gives the lease back
    assert (await tallies(sessions, contest.id))["01"] == 2
    await assert_fault_end(sessions, contest.id, {})  # its callback never came


async def test_a_pass_that_outlasts_its_lease_keeps_it(
    client: TestClient, sessions: Sessions, redis: Redis, settings: Settings, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    await age_orders(sessions, 40)
    ctx = JobContext(settings, sessions, redis, client.app[PROVIDERS])
    fake_mtn.statuses_held = asyncio.Event()
    # A lease of 4 s, renewed every third of it: a test process held up to 2.6 s (a busy machine) still keeps it.
    running = asyncio.create_task(reconcile_pass(ctx, lease_seconds=4))
    try:
        await until(lambda: fake_mtn.status_calls == 1)
        await asyncio.sleep(9)  # over two leases: renewed while the pass runs
        # (had the lease run out, this pass would start and wait at MTN too, and time out here)
        assert await asyncio.wait_for(reconcile_pass(ctx, lease_seconds=4), 3) == "another pass is running"
        assert fake_mtn.status_calls == 1
    finally:
        fake_mtn.statuses_held.set()
    assert "1 counted" in await running
    assert await reconcile_pass(ctx, lease_seconds=2) == "checked 0 pending orders"
    await assert_fault_end(sessions, contest.id, {})


async def test_redis_restarting_empty_loses_no_vote_and_the_board_is_rebuilt(
    client: TestClient, sessions: Sessions, redis: Redis, fake_mtn: FakeMtn
) -> None:
    """Every connection the app holds to Redis dropped (as in a restart) and its data gone: votes
    go on, and the public board comes back from PostgreSQL with every vote on it."""
    contest = await make_contest(sessions, slug="gala")
    for quantity in (2, 3):
        if quantity == 3:
            await kill_redis_clients(redis, "normal")  # all but this test's own
            await redis.flushdb()
        order_id = await vote(client, "gala", quantity=quantity)
        fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
        assert await callback(client, order_id, {"status": "SUCCESSFUL"}) == 200
        await client.app[CHECKS].wait_idle()
    assert (await tallies(sessions, contest.id))["01"] == 5
    await kill_redis_clients(redis, "normal")  # restarted empty again, after the votes:
    await redis.flushdb()  # no new vote will refresh the board, the next read must rebuild it
    board: dict[str, object] = {}
    for _ in range(200):
        board = await (await client.get("/api/v1/contests/gala/leaderboard")).json()
        if board["total_votes"] == 5 and board["version"] > 10**12:  # a read on a dropped connection may
            break  # still answer from PostgreSQL's fallback; the next ones rebuild the board in Redis
        await asyncio.sleep(0.02)
    assert board["total_votes"] == 5
    assert board["version"] > 10**12  # rebuilt into Redis (PostgreSQL's fallback boards are versioned far lower)
    await assert_fault_end(sessions, contest.id, {("callback.successful", "needs_check"): 2})


async def test_with_redis_unreachable_votes_go_on_and_the_board_is_read_from_postgres(
    settings: Settings, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    """Redis down for a while (restarting): no vote is refused for it, and the board stays up."""
    contest = await make_contest(sessions, slug="gala")
    counted = await place(sessions, contest, "02", 4)
    await counting.confirm_payment(sessions, counted.id, "SUCCESSFUL", counted.amount, "XAF", None,
                                   provider=counted.provider)
    app = create_app(settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"}))
    async with TestClient(TestServer(app)) as client:
        try:
            await vote(client, "gala", quantity=2)  # 201, and its prompt goes out
            assert fake_mtn.pay_calls == 1
            first = await client.get("/api/v1/contests/gala/leaderboard")
            board = await first.json()
            assert {row["code"]: row["votes"] for row in board["candidates"]}["02"] == 4
            # Unchanged votes, unchanged ETag; and a version below any Redis hands out (its clock in ms),
            # so the boards Redis serves once back replace this one for every viewer.
            again = await client.get("/api/v1/contests/gala/leaderboard",
                                     headers={"If-None-Match": first.headers["ETag"]})
            assert again.status == 304 and board["version"] < 10**12
            assert (await client.get("/c/gala")).status == 200
            ready = await client.get("/readyz")
            assert ready.status == 200 and (await ready.json())["status"] == "degraded"
        finally:
            await app[STARTS].close(grace=0)
    await assert_fault_end(sessions, contest.id, {})


async def test_a_pooled_connection_the_network_silently_forgot_is_replaced_not_waited_on(settings: Settings) -> None:
    """A firewall or NAT drops an idle connection without a word (no reset, no close): the pool's
    check of a long-idle connection must give up on it quickly and connect anew, not wait for TCP
    to time out (a quarter of an hour) while a voter waits."""
    relay, url = await postgres_relay(settings.database_url or "")
    engine = create_engine(url, pool_size=1, max_overflow=0, ping_if_idle=0.5)
    try:
        async with engine.connect() as connection:
            forgotten = await connection.scalar(text("SELECT pg_backend_pid()"))
        await asyncio.sleep(1)  # a long quiet spell
        relay.forget_open_connections()
        async with asyncio.timeout(database.PING_TIMEOUT_SECONDS + 1.5), engine.connect() as connection:
            assert await connection.scalar(text("SELECT pg_backend_pid()")) != forgotten
    finally:
        await engine.dispose()
        await relay.close()


async def test_a_redis_connection_the_network_silently_forgot_holds_a_vote_seconds_not_forever(
    settings: Settings, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    """The same for Redis: the per-address vote limit's command on a forgotten connection gives up
    after redis-py's read time-out (5 s by default since redis-py 8; pyproject asks for it), the vote
    goes on (the limit fails open, as with Redis away), and the next command gets a fresh connection.
    (The leaderboard's subscription is exempt by redis-py's design: it waits for messages.)"""
    await make_contest(sessions, slug="gala")
    relay, url = await redis_relay(settings.redis_url or "")
    app = create_app(settings.model_copy(update={"redis_url": url}))
    try:
        async with TestClient(TestServer(app)) as client:
            try:
                await vote(client, "gala", quantity=1)  # the pool now holds a connection through the relay
                relay.forget_open_connections()
                async with asyncio.timeout(REDIS_READ_TIMEOUT_SECONDS + 10):
                    await vote(client, "gala", quantity=2)
                async with asyncio.timeout(3):  # a fresh connection: no wait at all this time
                    await vote(client, "gala", quantity=3)
            finally:
                await app[STARTS].close(grace=0)
    finally:
        await relay.close()
    assert await count_orders(sessions) == 3


async def test_a_statement_whose_connection_goes_silent_fails_in_seconds_and_the_pool_recovers(
    settings: Settings,
) -> None:
    """PostgreSQL fails over (or the network between us splits): connections in use stop answering
    mid-statement. Each such statement gives up after the engine's statement time-out, its
    connection is dropped, and the next request gets a working one: the web process is back as
    soon as the database is, not after TCP's quarter of an hour per stuck connection."""
    relay, url = await postgres_relay(settings.database_url or "")
    engine = create_engine(url, pool_size=1, max_overflow=0, statement_timeout_seconds=1.0)
    try:
        async with engine.connect() as connection:
            stuck = await connection.scalar(text("SELECT pg_backend_pid()"))
            relay.forget_open_connections()
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(5):  # the test's own guard; the engine's 1 s must come first
                    await connection.execute(text("SELECT 'mid-failover'"))
            assert time.monotonic() - started < 3 and connection.invalidated
        async with asyncio.timeout(3), engine.connect() as connection:
            assert await connection.scalar(text("SELECT pg_backend_pid()")) != stuck
    finally:
        await engine.dispose()
        await relay.close()
