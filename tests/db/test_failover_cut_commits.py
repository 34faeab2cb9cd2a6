"""A failover cuts a vote's statements in flight: the vote is answered once, with the order the database kept (or
one placed again when none was kept), and a callback that finds no primary is answered 503 so its provider sends it
again. The connection to PostgreSQL passes a relay that cuts it at the chosen moment, as HAProxy cuts the sessions
of a primary Patroni has demoted (bench/cluster and tests/failover run the real thing)."""

from __future__ import annotations

import asyncio
import uuid

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.web.keys import STARTS
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import VoteOrder
from gateway.kit.keys import CHECKS
from tests.factories import count_orders, make_contest, tallies
from tests.fakes.mtn import FakeMtn, callback, callback_path, reference_of
from tests.network import SilentRelay, postgres_relay

VOTE = {"candidate": "01", "quantity": 3, "provider": "mtn", "msisdn": "+237670000001"}


async def vote_cut_at(client: TestClient, relay: SilentRelay, cut_after: bytes) -> tuple[int, dict[str, object]]:
    """A vote whose connection is cut once the server has answered the statement containing `cut_after`, before the
    answer reaches the service."""
    insert = relay.hold_next_answer(b"INSERT INTO vote_orders")
    answered = asyncio.create_task(client.post("/api/v1/contests/gala/votes", json=VOTE))
    await asyncio.wait_for(insert.arrived.wait(), 30)
    if cut_after == b"COMMIT":  # let the insert's answer through; hold the COMMIT's, once the server has committed
        commit = relay.hold_next_answer(b"COMMIT")
        insert.release()
        await asyncio.wait_for(commit.arrived.wait(), 30)
    relay.cut_open_connections()
    response = await asyncio.wait_for(answered, 60)
    return response.status, await response.json()


async def orders_in(sessions: Sessions) -> list[VoteOrder]:
    async with autocommit(sessions) as session:
        return list(await session.scalars(select(VoteOrder)))


async def test_a_vote_whose_commit_answer_is_lost_is_answered_with_the_order_the_database_kept(
    settings: Settings, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    """The primary committed the order and went away before saying so: the service finds it again (durably) and
    answers 201 with it; no second order, one prompt, counted once when paid."""
    contest = await make_contest(sessions, slug="gala")
    relay, url = await postgres_relay(settings.database_url or "")
    app = create_app(settings.model_copy(update={"database_url": url}))
    try:
        async with TestClient(TestServer(app)) as client:
            status, body = await vote_cut_at(client, relay, b"COMMIT")
            assert status == 201, body
            await app[STARTS].wait_idle()
            orders = await orders_in(sessions)
            assert [str(order.id) for order in orders] == [body["order"]["id"]]  # type: ignore[index]
            fake_mtn.decide(await reference_of(sessions, orders[0].id), "SUCCESSFUL")
            assert await callback(client, orders[0].id, {"status": "SUCCESSFUL"}) == 200
            await app[CHECKS].wait_idle()
            await app[STARTS].close(grace=0)
    finally:
        await relay.close()
    assert (await tallies(sessions, contest.id))["01"] == 3


async def test_a_vote_whose_insert_never_committed_is_placed_again_once(
    settings: Settings, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    """The primary went away with the insert's transaction open: nothing was kept, so the service places the vote
    again on the next connection and answers 201; one order, not none and not two."""
    await make_contest(sessions, slug="gala")
    relay, url = await postgres_relay(settings.database_url or "")
    app = create_app(settings.model_copy(update={"database_url": url}))
    try:
        async with TestClient(TestServer(app)) as client:
            status, body = await vote_cut_at(client, relay, b"INSERT")
            await app[STARTS].close(grace=0)
    finally:
        await relay.close()
    assert status == 201, body
    assert [str(order.id) for order in await orders_in(sessions)] == [body["order"]["id"]]  # type: ignore[index]


async def test_a_callback_that_finds_no_primary_is_answered_503_and_counted_when_sent_again(
    settings: Settings, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    """During a failover there is no primary to keep a provider's callback: it is answered 503 with Retry-After (a
    provider sends it again), not 500 nor 200; sent again once there is one, it counts once."""
    contest = await make_contest(sessions, slug="gala")
    relay, url = await postgres_relay(settings.database_url or "")
    app = create_app(settings.model_copy(update={"database_url": url}))
    try:
        async with TestClient(TestServer(app)) as client:
            response = await client.post("/api/v1/contests/gala/votes", json=VOTE)
            assert response.status == 201
            order_id = uuid.UUID((await response.json())["order"]["id"])
            await app[STARTS].wait_idle()
            fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
            relay.refusing = True
            relay.cut_open_connections()
            refused = await client.put(callback_path(client, order_id), json={"status": "SUCCESSFUL"})
            assert refused.status == 503 and refused.headers["Retry-After"] == "5"
            assert (await refused.json())["error"]["code"] == "database_unavailable"
            relay.refusing = False
            assert await callback(client, order_id, {"status": "SUCCESSFUL"}) == 200
            await app[CHECKS].wait_idle()
            await app[STARTS].close(grace=0)
    finally:
        await relay.close()
    assert (await tallies(sessions, contest.id))["01"] == 3
    assert await count_orders(sessions) == 1
