"""Callbacks and the reconciler through the running app, with MTN faked at the wire: forged,
duplicate, late and lost callbacks never count a vote twice and never lose one."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import payment_flow, votes
from gateway.config import Settings
from gateway.errors import Conflict
from gateway.keys import CHECKS, PROVIDERS, SESSIONS
from gateway.models import AuditEntry, OrderStatus, ProviderEvent, VoteOrder
from gateway.reconciler import reconcile
from tests.factories import assert_tally_invariant, make_contest, tallies

Sessions = async_sessionmaker[AsyncSession]


@dataclass
class FakeMtn:
    """MTN's wire as respx sees it: statuses we set per reference, calls it received."""

    statuses: dict[str, dict[str, object]] = field(default_factory=dict)
    status_calls: int = 0
    pay_calls: int = 0

    def status_of(self, request: httpx.Request) -> httpx.Response:
        self.status_calls += 1
        reference = request.url.path.rsplit("/", 1)[-1]
        if reference not in self.statuses:
            return httpx.Response(404, json={"code": "RESOURCE_NOT_FOUND", "message": "no such reference"})
        return httpx.Response(200, json=self.statuses[reference])

    def request_to_pay(self, request: httpx.Request) -> httpx.Response:
        self.pay_calls += 1
        reference = request.headers["X-Reference-Id"]
        if reference in self.statuses:
            return httpx.Response(409, json={"code": "RESOURCE_ALREADY_EXIST", "message": "dup"})
        body = json.loads(request.content)
        self.statuses[reference] = {"status": "PENDING", "amount": body["amount"], "currency": body["currency"]}
        return httpx.Response(202)

    def decide(self, reference: uuid.UUID, status: str, amount: str | None = None, reason: str | None = None) -> None:
        current = self.statuses[str(reference)]
        current.update(status=status, financialTransactionId="mtn-txn-1" if status == "SUCCESSFUL" else None)
        if amount is not None:
            current["amount"] = amount
        if reason:
            current["reason"] = reason


@pytest.fixture
def fake_mtn(settings: Settings) -> Iterator[FakeMtn]:
    fake = FakeMtn()
    base = f"{settings.sandbox_url}/mtn"
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{base}/collection/token/").respond(
            200, json={"access_token": "t", "token_type": "access_token", "expires_in": 3600})
        router.post(f"{base}/collection/v1_0/requesttopay").mock(side_effect=fake.request_to_pay)
        router.get(url__regex=rf"{base}/collection/v1_0/requesttopay/.+").mock(side_effect=fake.status_of)
        yield fake


async def vote(client: TestClient, slug: str, quantity: int = 5, msisdn: str = "+237670000001") -> uuid.UUID:
    response = await client.post(f"/api/v1/contests/{slug}/votes",
                                 json={"candidate": "01", "quantity": quantity, "provider": "mtn", "msisdn": msisdn})
    assert response.status == 201, await response.text()
    order_id = uuid.UUID((await response.json())["order"]["id"])
    # What the worker's start job does, here inline:
    await payment_flow.start_payment(client.app[SESSIONS], client.app[PROVIDERS], order_id)
    return order_id


async def callback(client: TestClient, order_id: object, body: dict[str, object], method: str = "PUT") -> int:
    response = await client.request(method, f"/payments/mtn/callback/{order_id}", json=body)
    return response.status


async def reference_of(sessions: Sessions, order_id: uuid.UUID) -> uuid.UUID:
    return (await votes.get_order(sessions, order_id)).payment_reference


async def test_success_confirmed_by_status_get_counts_the_vote(client: TestClient, sessions: Sessions,
                                                               fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    assert await callback(client, order_id, {"status": "SUCCESSFUL"}) == 200
    await client.app[CHECKS].wait_idle()
    order = await votes.get_order(sessions, order_id)
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
    assert (await votes.get_order(sessions, order_id)).status is OrderStatus.PENDING
    assert (await tallies(sessions, contest.id))["01"] == 0
    async with sessions() as session:
        event = (await session.scalars(select(ProviderEvent))).one()
    assert event.kind == "callback.successful" and event.outcome == "needs_check"
    assert json.loads(event.body)["financialTransactionId"] == "fake"


async def test_fifty_concurrent_duplicate_callbacks_count_once_with_few_status_calls(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=3)
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    body = {"status": "SUCCESSFUL", "amount": "300", "currency": "XAF"}
    statuses = await asyncio.gather(*(callback(client, order_id, body) for _ in range(50)))
    await client.app[CHECKS].wait_idle()
    assert statuses == [200] * 50
    assert (await tallies(sessions, contest.id))["01"] == 3
    assert fake_mtn.status_calls <= 5
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ProviderEvent)) == 50
    await assert_tally_invariant(sessions, contest.id)


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
    order = await votes.get_order(sessions, order_id)
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
    order = await votes.get_order(sessions, order_id)
    assert order.status is OrderStatus.FLAGGED and "mismatch" in (order.status_reason or "")
    await assert_tally_invariant(sessions, contest.id)


async def test_lost_callback_is_recovered_by_the_reconciler(client: TestClient, sessions: Sessions,
                                                           fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=2)
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    registry = client.app[PROVIDERS]
    too_early = await reconcile(sessions, registry, now=datetime.now(UTC) + timedelta(seconds=5))
    assert too_early.checked == 0  # the callback gets its chance first
    report = await reconcile(sessions, registry, now=datetime.now(UTC) + timedelta(seconds=31))
    assert report.changed == [(order_id, "counted")]
    assert (await tallies(sessions, contest.id))["01"] == 2
    again = await reconcile(sessions, registry, now=datetime.now(UTC) + timedelta(minutes=5))
    assert again.checked == 0


async def test_pending_past_window_expires_and_a_late_success_is_flagged_not_counted(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    report = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=11))
    assert report.changed == [(order_id, "expired")]
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    await callback(client, order_id, {"status": "SUCCESSFUL"})
    await client.app[CHECKS].wait_idle()
    order = await votes.get_order(sessions, order_id)
    assert order.status is OrderStatus.FLAGGED and "after the order was expired" in (order.status_reason or "")
    assert (await tallies(sessions, contest.id))["01"] == 0


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
    assert (await votes.get_order(sessions, order_id)).status is OrderStatus.PAID
    assert (await tallies(sessions, contest.id))["01"] == 5


async def test_order_never_created_at_mtn_is_expired_after_its_window(client: TestClient, sessions: Sessions,
                                                                     fake_mtn: FakeMtn) -> None:
    await make_contest(sessions, slug="gala")
    response = await client.post("/api/v1/contests/gala/votes",
                                 json={"candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": "+237670000001"})
    order_id = uuid.UUID((await response.json())["order"]["id"])  # start job never ran
    soon = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=40))
    assert soon.outcomes["not_started_yet"] == 1
    late = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=11))
    assert late.changed == [(order_id, "expired")]
    assert "never started" in ((await votes.get_order(sessions, order_id)).status_reason or "")


@pytest.mark.parametrize("path_id", ["not-a-uuid", str(uuid.uuid4())])
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


async def test_mobile_money_refund_is_marked_for_a_person_and_leaves_the_tally(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=4)
    pending_refund = payment_flow.request_refund(sessions, client.app[PROVIDERS], order_id, "ops@example.com")
    with pytest.raises(Conflict):
        await pending_refund  # not paid yet
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    await callback(client, order_id, {"status": "SUCCESSFUL"})
    await client.app[CHECKS].wait_idle()
    outcome = await payment_flow.request_refund(sessions, client.app[PROVIDERS], order_id, "ops@example.com")
    assert outcome.status is OrderStatus.REFUND_REQUESTED and "manual refund" in outcome.message
    assert (await tallies(sessions, contest.id))["01"] == 0
    await assert_tally_invariant(sessions, contest.id)
    async with sessions() as session:
        entry = (await session.scalars(select(AuditEntry))).one()
    assert (entry.actor, entry.action, entry.target) == ("ops@example.com", "order.refund", str(order_id))
