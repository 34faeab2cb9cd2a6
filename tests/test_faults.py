"""Faults that take seconds: the database dropping our connections, a provider down for a while,
and callbacks replayed long after. Each ends with the tally invariant."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway import votes
from gateway.keys import CHECKS, PROVIDERS, STARTS
from gateway.models import OrderStatus
from gateway.reconciler import reconcile
from tests.factories import assert_tally_invariant, make_contest, tallies
from tests.fakes.mtn import FakeMtn, callback, reference_of, vote

Sessions = async_sessionmaker[AsyncSession]
VOTE = {"candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": "+237670000001"}


async def test_the_service_reconnects_after_postgres_drops_every_connection(
    client: TestClient, sessions: Sessions, engine: AsyncEngine, fake_mtn: FakeMtn
) -> None:
    await make_contest(sessions, slug="gala")
    assert (await client.post("/api/v1/contests/gala/votes", json=VOTE)).status == 201
    await client.app[STARTS].wait_idle()  # the app's pool now holds idle connections
    async with engine.connect() as connection:
        others = list(await connection.scalars(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")))
        killed = [pid for pid in others
                  if await connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})]
    assert killed
    await backends_gone(engine, killed)  # as after a restart: every pooled connection's server side is gone
    assert (await client.get("/readyz")).status == 200
    assert (await client.post("/api/v1/contests/gala/votes", json=VOTE)).status == 201


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


async def test_provider_down_for_a_minute_then_back_loses_nothing(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=2)
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    fake_mtn.down = True
    await callback(client, order_id, {"status": "SUCCESSFUL"})  # the check after it fails
    await client.app[CHECKS].wait_idle()
    during = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=40))
    assert during.outcomes["unreachable"] == 1
    assert (await votes.get_order(sessions, order_id)).status is OrderStatus.PENDING
    fake_mtn.down = False
    after = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=100))
    assert after.changed == [(order_id, "counted")]
    assert (await tallies(sessions, contest.id))["01"] == 2
    await assert_tally_invariant(sessions, contest.id)


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
    await callback(client, order_id, {"status": "SUCCESSFUL"})
    await callback(client, uuid.uuid4(), {"status": "SUCCESSFUL"})
    await client.app[CHECKS].wait_idle()
    assert (await tallies(sessions, contest.id))["01"] == 3
    await assert_tally_invariant(sessions, contest.id)
