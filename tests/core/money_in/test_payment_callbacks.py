"""MTN's callbacks through the running app, with MTN faked at the wire: a callback only makes the app ask
MTN, so forged, duplicate (a hundred at once, or spread over two web processes), contradicting and unknown-order
callbacks never count a vote twice or for nothing; a burst is checked within MTN's status-call cap, a failure keeps
MTN's reason, a wrong amount is flagged, and a paid mobile-money refund is marked for a person."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from assembly.settings import Settings
from assembly.web.app import STATEMENT_TIMEOUT_SECONDS, LentEngines, create_app
from assembly.web.keys import STARTS
from gateway.core.errors import Conflict
from gateway.core.money_out import refunds
from gateway.core.orders import tables
from gateway.db.engine import Sessions, create_engine
from gateway.db.models import AuditEntry, OrderStatus, ProviderEvent, VoteOrder
from gateway.kit.keys import CHECKS, PROVIDERS
from tests.factories import assert_fault_end, assert_tally_invariant, make_contest, place, tallies
from tests.fakes.mtn import FakeMtn, callback, reference_of, vote
from tests.waiting import until


async def test_success_confirmed_by_status_get_counts_the_vote(client: TestClient, sessions: Sessions,
                                                               fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    assert await callback(client, order_id, {"status": "SUCCESSFUL"}) == 200
    await client.app[CHECKS].wait_idle()
    order = await tables.get_order(sessions, order_id)
    assert order.status is OrderStatus.PAID and order.provider_txn_id == "mtn-txn-1"
    assert (await tallies(sessions, contest.id))["01"] == 5
    body = await (await client.get(f"/api/v1/orders/{order_id}")).json()
    assert body["status"] == "paid"


async def test_forged_success_callback_for_a_pending_payment_counts_nothing(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    forged = {"status": "SUCCESSFUL", "amount": "500", "currency": "XAF", "financialTransactionId": "fake"}
    assert await callback(client, order_id, forged, method="POST") == 200
    await client.app[CHECKS].wait_idle()
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PENDING
    assert (await tallies(sessions, contest.id))["01"] == 0
    assert fake_mtn.status_calls == 1  # the forged callback only made us ask MTN, which knew better
    async with sessions() as session:
        event = (await session.scalars(select(ProviderEvent))).one()
    assert event.kind == "callback.successful" and event.outcome == "needs_check"
    assert json.loads(event.body)["financialTransactionId"] == "fake"


async def test_a_hundred_concurrent_duplicate_callbacks_count_once_with_few_status_calls(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=3)
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    body = {"status": "SUCCESSFUL", "amount": "300", "currency": "XAF"}
    statuses = await asyncio.gather(*(callback(client, order_id, body) for _ in range(100)))
    await client.app[CHECKS].wait_idle()
    assert statuses == [200] * 100
    assert (await tallies(sessions, contest.id))["01"] == 3
    assert fake_mtn.status_calls <= 5
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PAID
    await assert_fault_end(sessions, contest.id, {("callback.successful", "needs_check"): 100})


@asynccontextmanager
async def few_connections(settings: Settings) -> AsyncIterator[LentEngines]:
    """Engines for a second web process that open a few connections at most: with a process's own (24 for requests),
    two processes answering 50 callbacks each took 48 of the 100 connections CI's PostgreSQL allows its four test
    processes, and the last callbacks were refused a connection ("too many clients", a 500)."""
    url = settings.database_url or ""
    engines = LentEngines(*(create_engine(url, pool_size=1, max_overflow=3,
                                          statement_timeout_seconds=STATEMENT_TIMEOUT_SECONDS) for _ in range(3)))
    try:
        yield engines
    finally:
        for engine in (engines.requests, engines.verification, engines.board):
            await engine.dispose()


async def test_duplicate_callbacks_spread_over_two_web_processes_count_once(
    client: TestClient, settings: Settings, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    """Each process checks once; both checks are at MTN at the same moment and both hear SUCCESSFUL:
    only the vote core's guarded statement keeps the second from counting again."""
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=3)
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    fake_mtn.statuses_held = asyncio.Event()
    body = {"status": "SUCCESSFUL", "amount": "300", "currency": "XAF"}
    async with few_connections(settings) as lent, TestClient(TestServer(create_app(settings, lent=lent))) as other:
        statuses = await asyncio.gather(*(callback(web, order_id, body) for web in (client, other) for _ in range(50)))
        await until(lambda: fake_mtn.status_calls == 2)
        fake_mtn.statuses_held.set()
        for web in (client, other):
            await web.app[CHECKS].wait_idle()
    assert statuses == [200] * 100
    assert (await tallies(sessions, contest.id))["01"] == 3
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PAID
    await assert_fault_end(sessions, contest.id, {("callback.successful", "needs_check"): 100})


@pytest.mark.parametrize("reason", ["APPROVAL_REJECTED", "EXPIRED", "PAYER_NOT_FOUND", "NOT_ENOUGH_FUNDS",
                                    "INTERNAL_PROCESSING_ERROR"])
async def test_each_failure_reason_fails_the_order_with_that_reason(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn, reason: str
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    fake_mtn.decide(await reference_of(sessions, order_id), "FAILED", reason=reason)
    await callback(client, order_id, {"status": "FAILED"})
    await client.app[CHECKS].wait_idle()
    order = await tables.get_order(sessions, order_id)
    assert order.status is OrderStatus.FAILED
    assert order.status_reason and order.status_reason.endswith(f"({reason})") and len(order.status_reason) > 20
    assert (await tallies(sessions, contest.id))["01"] == 0


async def test_amount_mismatch_is_flagged_not_counted(client: TestClient, sessions: Sessions,
                                                      fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=5)
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL", amount="100")
    await callback(client, order_id, {"status": "SUCCESSFUL"})
    await client.app[CHECKS].wait_idle()
    order = await tables.get_order(sessions, order_id)
    assert order.status is OrderStatus.FLAGGED and "mismatch" in (order.status_reason or "")
    await assert_tally_invariant(sessions, contest.id)


async def test_failed_after_success_changes_nothing(client: TestClient, sessions: Sessions,
                                                    fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    reference = await reference_of(sessions, order_id)
    fake_mtn.decide(reference, "SUCCESSFUL")
    await callback(client, order_id, {"status": "SUCCESSFUL"})
    await client.app[CHECKS].wait_idle()
    fake_mtn.decide(reference, "FAILED", reason="INTERNAL_PROCESSING_ERROR")
    await callback(client, order_id, {"status": "FAILED"})
    await client.app[CHECKS].wait_idle()
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PAID
    assert (await tallies(sessions, contest.id))["01"] == 5
    assert fake_mtn.status_calls == 1  # a paid order is not asked about again: a decided vote stays decided
    await assert_fault_end(sessions, contest.id, {("callback.successful", "needs_check"): 1,
                                                  ("callback.failed", "needs_check"): 1})


@pytest.mark.parametrize("path_id", ["not-a-uuid", "3f2b6c1e-8d4a-4c7e-9b1f-5a6d7e8f9012"])
async def test_callback_for_an_unknown_order_is_kept_and_changes_nothing(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn, path_id: str
) -> None:
    assert await callback(client, path_id, {"status": "SUCCESSFUL"}) == 200
    await client.app[CHECKS].wait_idle()
    async with sessions() as session:
        event = (await session.scalars(select(ProviderEvent))).one()
        assert event.outcome in ("ignored", "unknown_order")
        assert await session.scalar(select(func.count()).select_from(VoteOrder)) == 0
    assert fake_mtn.status_calls == 0


async def test_an_mtn_refund_is_owed_at_once_and_leaves_the_tally(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=4)
    pending_refund = refunds.request_refund(sessions, client.app[PROVIDERS], order_id, "ops@example.com")
    with pytest.raises(Conflict):
        await pending_refund  # not paid yet
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    await callback(client, order_id, {"status": "SUCCESSFUL"})
    await client.app[CHECKS].wait_idle()
    outcome = await refunds.request_refund(sessions, client.app[PROVIDERS], order_id, "ops@example.com")
    # Sent by MTN's Disbursement API by the refunds pass (tests/core/money_out/test_refunds_sent.py).
    assert outcome.status is OrderStatus.REFUND_REQUESTED and "sends it back by itself" in outcome.message
    assert (await tallies(sessions, contest.id))["01"] == 0
    await assert_tally_invariant(sessions, contest.id)
    async with sessions() as session:
        entry = (await session.scalars(select(AuditEntry))).one()
    assert (entry.actor, entry.action, entry.target) == ("ops@example.com", "order.refund", str(order_id))


async def test_a_burst_of_callbacks_is_checked_within_mtns_status_call_cap_and_all_counted(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    orders = [(await place(sessions, contest, msisdn=f"+2376700002{n:02d}")).id for n in range(25)]
    for order_id in orders:
        client.app[STARTS].request(order_id)
    await client.app[STARTS].wait_idle()
    for order_id in orders:
        fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL", amount="100")
    assert set(await asyncio.gather(*(callback(client, o, {"status": "SUCCESSFUL"}) for o in orders))) == {200}
    await client.app[CHECKS].wait_idle()
    assert max(Counter(fake_mtn.status_call_seconds).values()) <= 10  # MTN would answer 429 above its cap
    assert (await tallies(sessions, contest.id))["01"] == 25
    await assert_tally_invariant(sessions, contest.id)
