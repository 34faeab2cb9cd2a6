"""Orange WebPay starts cut short, over real localhost HTTP between our app and the Orange sandbox:
Orange opened a payment page but our record of it never happened (a lost answer, a process that
died). The payer's retry must still get a page (Orange refuses a reused order id with 409), a
payment Orange took must be counted once, and Orange's notification must never be thrown away."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select, update

from assembly.settings import Settings
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus, ProviderEvent, VoteOrder
from gateway.kit.keys import CHECKS, SESSIONS, SETTINGS
from payments.sandbox.control import SandboxControl
from payments.sandbox.orange import create_orange_sandbox
from payments.sandbox.orange.state import ORANGE, OrangeState, WebPayment
from tests.factories import assert_tally_invariant, make_contest, place, tallies
from tests.live_app import SettlingOrders, app_beside
from tests.order_triggers import before_order_updates

VOTE = {"candidate": "01", "quantity": 3, "provider": "orange", "msisdn": "+237690000001"}


@dataclass
class Live(SettlingOrders):
    client: TestClient
    control: SandboxControl
    orange: OrangeState
    sandbox: TestServer
    sessions: Sessions
    contest: Contest

    async def vote(self, key: str) -> tuple[int, dict[str, object]]:
        """The payer's vote on the JSON API; sent again with the same key, it is a retry of the same vote."""
        response = await self.client.post(f"/api/v1/contests/{self.contest.slug}/votes", json=VOTE,
                                          headers={"Idempotency-Key": key})
        return response.status, await response.json()

    def pages(self, order_id: uuid.UUID) -> list[WebPayment]:
        """The payment pages Orange opened for an order, oldest first."""
        return [page for page in self.orange.webpayments.values()
                if page.request.notif_url.endswith(f"/payments/orange/notify/{order_id}")]

    async def pay(self, page: WebPayment) -> None:
        async with httpx.AsyncClient() as payer:
            await payer.post(str(self.sandbox.make_url(f"/orange/webpay/pay/{page.pay_token}")),
                             data={"decision": "pay"})



@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[Live]:
    control = SandboxControl(success_delay=0.05, long_delay=0.3)
    orange = create_orange_sandbox(control)
    providers = web.Application()
    providers.add_subapp("/orange", orange)
    async with TestServer(providers) as sandbox:
        async with app_beside(sandbox, settings) as client:
            contest = await make_contest(sessions, slug="gala")
            yield Live(client, control, orange[ORANGE], sandbox, client.app[SESSIONS], contest)


def dying_before_the_record(sessions: Sessions) -> AbstractAsyncContextManager[None]:
    """The web process dies after Orange answered and before the start is recorded: the one statement
    that records a start fails, and nothing after it runs."""
    return before_order_updates(
        sessions, "test_no_start_record", "IF OLD.payment_started_at IS NULL AND NEW.payment_started_at IS NOT NULL "
        "THEN RAISE EXCEPTION 'the process died before recording the start'; END IF;")


async def lease_runs_out(sessions: Sessions, order_id: uuid.UUID) -> None:
    async with sessions.begin() as session:
        await session.execute(update(VoteOrder).where(VoteOrder.id == order_id)
                              .values(start_lease_until=func.now() - timedelta(seconds=1)))


async def only_order(sessions: Sessions) -> VoteOrder:
    async with sessions() as session:
        [order] = (await session.scalars(select(VoteOrder))).all()
    return order


async def counted_once(live: Live, order_id: uuid.UUID) -> None:
    """Paid, its votes in the tally once, and still once after Orange's notifications of every page of
    the order come (again)."""
    order = await live.settled(order_id)
    assert order.status is OrderStatus.PAID
    for page in live.pages(order_id):
        await live.client.post(f"/payments/orange/notify/{order_id}",
                               json={"status": "SUCCESS", "notif_token": page.notif_token, "txnid": page.txnid})
    await live.client.app[CHECKS].wait_idle()
    assert (await tallies(live.sessions, live.contest.id))["01"] == 3
    await assert_tally_invariant(live.sessions, live.contest.id)


@pytest.mark.parametrize("paid", ["the page of the start that died", "the page of the retry"])
async def test_a_start_that_died_after_orange_opened_its_page_is_retried_and_either_page_counts_once(
        live: Live, paid: str) -> None:
    async with dying_before_the_record(live.sessions):
        status, _ = await live.vote("tap-1")
    assert status == 500  # what the payer saw of the dead process
    order = await only_order(live.sessions)
    assert order.payment_started_at is None and order.provider_data == {} and len(live.pages(order.id)) == 1
    await lease_runs_out(live.sessions, order.id)  # the dead process's lease on the start ends
    status, body = await live.vote("tap-1")  # the payer tries again
    assert status == 201, body
    [first, second] = live.pages(order.id)
    assert body["next"]["url"] == str(live.sandbox.make_url(f"/orange/webpay/pay/{second.pay_token}"))
    await live.pay(first if paid == "the page of the start that died" else second)
    await counted_once(live, order.id)


async def test_a_start_whose_answer_from_orange_was_lost_is_retried_and_counted_once(live: Live) -> None:
    status, body = await live.vote("warm-up")  # Orange has answered us before
    assert status == 201
    live.control.lose_answers = 1  # Orange opens the next page, but its answer never arrives
    status, body = await live.vote("tap-1")
    assert status == 503 and body["error"]["code"] == "payment_unavailable"
    status, body = await live.vote("tap-1")  # the payer tries again at once
    assert status == 201, body
    order_id = uuid.UUID(str(body["order"]["id"]))  # type: ignore[index]
    [lost, retry] = live.pages(order_id)
    assert body["next"]["url"].endswith(retry.pay_token)  # type: ignore[index]
    await live.pay(retry)
    await counted_once(live, order_id)


async def test_a_notification_for_an_order_without_a_stored_token_is_kept_and_leads_to_a_check(
        live: Live) -> None:
    """The state a start that died mid-call leaves behind without this fix: Orange opened a page under
    our reference, the order holds no token, its start lease has run out. Orange's notification for that
    page cannot be checked against a token: it is kept and a status check asked for, never refused; and
    the payer's retry gets a page of its own (the old order id would answer 409)."""
    order = await place(live.sessions, live.contest, quantity=3, provider="orange", msisdn=VOTE["msisdn"],
                        client_key=f"web:{live.contest.slug}:tap-1")  # the payer's vote, made with key tap-1
    page = await open_page_as_before(live, order)
    async with live.sessions.begin() as session:  # the start that opened it died before its record
        await session.execute(update(VoteOrder).where(VoteOrder.id == order.id).values(
            start_attempted_at=func.now() - timedelta(minutes=3), start_lease_until=func.now() - timedelta(minutes=1)))
    live.control.drop_callbacks = True  # the notification is delivered by hand below, to see our answer
    await live.pay(page)
    notified = await live.client.post(f"/payments/orange/notify/{order.id}",
                                      json={"status": "SUCCESS", "notif_token": page.notif_token, "txnid": page.txnid})
    assert notified.status == 200, await notified.text()
    await live.client.app[CHECKS].wait_idle()
    async with live.sessions() as session:
        kept = (await session.execute(select(ProviderEvent.kind, ProviderEvent.outcome))).all()
    assert kept == [("notification.success.unverified", "needs_check")]  # needs_check: a status check was asked
    assert (await tables.get_order(live.sessions, order.id)).status is OrderStatus.PENDING  # never counted unproven
    status, body = await live.vote("tap-1")  # the payer's retry
    assert status == 201, body
    assert body["order"]["id"] == str(order.id) and len(live.pages(order.id)) == 2  # type: ignore[index]
    await assert_tally_invariant(live.sessions, live.contest.id)


async def open_page_as_before(live: Live, order: VoteOrder) -> WebPayment:
    """A page opened the way starts did before each had its own order id: under the order's reference."""
    async with httpx.AsyncClient(base_url=str(live.sandbox.make_url("/orange"))) as orange:
        token = (await orange.post("/oauth/v3/token", auth=("sandbox-client", "sandbox-secret"),
                                   data={"grant_type": "client_credentials"})).json()["access_token"]
        public = live.client.app[SETTINGS].public_base_url
        opened = await orange.post("/orange-money-webpay/dev/v1/webpayment", headers={
            "Authorization": f"Bearer {token}"}, json={
            "merchant_key": "sandbox-merchant", "currency": "OUV", "order_id": str(order.payment_reference),
            "amount": 300.0, "return_url": f"{public}/orders/{order.id}", "cancel_url": f"{public}/orders/{order.id}",
            "notif_url": f"{public}/payments/orange/notify/{order.id}", "lang": "fr"})
    assert opened.status_code == 201
    return live.orange.webpayments[opened.json()["pay_token"]]
