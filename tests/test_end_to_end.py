"""Votes paid end to end over real localhost HTTP: our app and the MTN/Orange sandboxes, with
callbacks travelling between them. Each test ends with the tally invariant."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from assembly.settings import Settings
from assembly.web.keys import STARTS
from gateway.core.money_in import collections, starting
from gateway.core.money_in.reconciler import reconcile
from gateway.core.orders import placing, tables
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus, ProviderEvent
from gateway.kit.keys import CHECKS, PROVIDERS, SESSIONS
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.channel_names import Channel
from tests.factories import PENDING_TTL, assert_tally_invariant, make_contest, tallies
from tests.live_app import SettlingOrders, app_beside
from tests.provider_registry import capabilities_of

NORMAL = "+237670000001"


@dataclass
class Live(SettlingOrders):
    client: TestClient
    control: SandboxControl
    sessions: Sessions
    contest: Contest

    async def vote(self, msisdn: str = NORMAL, quantity: int = 5, provider: str = "mtn") -> uuid.UUID:
        # Each voter from a phone of their own (through our proxy): many numbers behind one address is a
        # fraud rule's business (tests/core/fraud/test_holds.py), not this file's.
        response = await self.client.post(f"/api/v1/contests/{self.contest.slug}/votes", json={
            "candidate": "07", "quantity": quantity, "provider": provider, "msisdn": msisdn},
            headers={"X-Forwarded-For": f"41.202.{int(msisdn[-6:-3]) % 250}.{int(msisdn[-3:]) % 250 + 1}"})
        assert response.status == 201, await response.text()
        order_id = uuid.UUID((await response.json())["order"]["id"])
        await self.client.app[STARTS].wait_idle()  # a phone prompt goes out after the reply
        return order_id

    async def votes_for_07(self) -> int:
        await assert_tally_invariant(self.sessions, self.contest.id)
        return (await tallies(self.sessions, self.contest.id))["07"]


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[Live]:
    control = SandboxControl(success_delay=0.05, long_delay=0.3)
    async with TestServer(create_sandbox_app(control)) as sandbox:
        async with app_beside(sandbox, settings) as client:
            contest = await make_contest(sessions, candidates=8)
            yield Live(client, control, client.app[SESSIONS], contest)


async def test_a_burst_of_votes_against_mtns_status_call_cap_is_all_counted(live: Live) -> None:
    live.control.status_calls_per_second = 10  # as real MTN: an 11th status GET in a second answers 429
    live.control.success_delay = 0.3
    orders = [await live.vote(msisdn=f"+2376700003{n:02d}", quantity=1) for n in range(25)]
    settled = [await live.settled(order_id, timeout=10) for order_id in orders]
    assert {order.status for order in settled} == {OrderStatus.PAID}
    assert await live.votes_for_07() == 25


async def test_normal_number_is_paid_by_callback_and_counted(live: Live) -> None:
    order_id = await live.vote()
    order = await live.settled(order_id)
    assert order.status is OrderStatus.PAID
    assert await live.votes_for_07() == 5


@pytest.mark.parametrize(("msisdn", "reason"), [
    ("237670123450", "INTERNAL_PROCESSING_ERROR"), ("237670123451", "APPROVAL_REJECTED"),
    ("237670123452", "EXPIRED"), ("237670123455", "PAYER_NOT_FOUND")])
async def test_each_sandbox_failure_ends_failed_with_its_reason(live: Live, msisdn: str, reason: str) -> None:
    order = await live.settled(await live.vote(msisdn))
    assert order.status is OrderStatus.FAILED and f"({reason})" in (order.status_reason or "")
    assert await live.votes_for_07() == 0


async def test_delayed_payer_is_counted_when_it_arrives(live: Live) -> None:
    order_id = await live.vote("237670123454")
    assert (await tables.get_order(live.sessions, order_id)).status is OrderStatus.PENDING
    assert (await live.settled(order_id)).status is OrderStatus.PAID
    assert await live.votes_for_07() == 5


async def test_duplicate_callbacks_count_once(live: Live) -> None:
    live.control.duplicate_callbacks = 20
    order = await live.settled(await live.vote(quantity=3))
    assert order.status is OrderStatus.PAID
    for _ in range(100):  # every duplicate lands, however busy the machine
        async with live.sessions() as session:
            if await session.scalar(select(func.count()).select_from(ProviderEvent)) >= 20:
                break
        await asyncio.sleep(0.1)
    await live.client.app[CHECKS].wait_idle()
    async with live.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ProviderEvent)) == 20
    assert await live.votes_for_07() == 3


async def test_lost_callback_is_recovered_by_the_reconciler(live: Live) -> None:
    live.control.drop_callbacks = True
    order_id = await live.vote()
    await asyncio.sleep(0.2)
    assert (await tables.get_order(live.sessions, order_id)).status is OrderStatus.PENDING
    report = await reconcile(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=31))
    assert report.changed == [(order_id, "counted")]
    assert await live.votes_for_07() == 5


async def test_a_5xx_burst_at_start_is_retried_with_the_same_reference(live: Live) -> None:
    live.control.fail_next = 2
    order = await live.settled(await live.vote())
    assert order.status is OrderStatus.PAID
    assert await live.votes_for_07() == 5


async def test_a_payer_who_never_approves_is_expired_after_the_window(live: Live) -> None:
    order_id = await live.vote("237670123453")
    report = await reconcile(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=11))
    assert report.changed == [(order_id, "expired")]
    assert await live.votes_for_07() == 0


async def test_orange_webpay_vote_is_counted_after_the_payer_pays_on_the_page(live: Live) -> None:
    response = await live.client.post(f"/api/v1/contests/{live.contest.slug}/votes", json={
        "candidate": "07", "quantity": 2, "provider": "orange", "msisdn": NORMAL})
    body = await response.json()
    assert response.status == 201 and body["next"]["action"] == "redirect"
    async with httpx.AsyncClient() as payer:
        page = await payer.get(body["next"]["url"])
        assert page.status_code == 200
        await payer.post(body["next"]["url"], data={"decision": "pay"})
    order = await live.settled(uuid.UUID(body["order"]["id"]))
    assert order.status is OrderStatus.PAID
    assert await live.votes_for_07() == 2


async def test_orange_notification_with_a_wrong_token_is_rejected(live: Live) -> None:
    response = await live.client.post(f"/api/v1/contests/{live.contest.slug}/votes", json={
        "candidate": "07", "quantity": 2, "provider": "orange", "msisdn": NORMAL})
    order_id = (await response.json())["order"]["id"]
    forged = await live.client.post(f"/payments/orange/notify/{order_id}",
                                    json={"status": "SUCCESS", "notif_token": "forged", "txnid": "MP1"})
    assert forged.status == 400 and (await forged.json())["error"]["code"] == "bad_notif_token"
    assert (await tables.get_order(live.sessions, uuid.UUID(order_id))).status is OrderStatus.PENDING
    assert await live.votes_for_07() == 0


@pytest.mark.parametrize(("msisdn", "status"), [("+237690000001", OrderStatus.PAID),
                                                ("+237690000451", OrderStatus.FAILED)])
async def test_orange_push_for_ussd_voters(live: Live, msisdn: str, status: OrderStatus) -> None:
    request = placing.OrderRequest(live.contest.slug, "07", 4, "orange", Channel.USSD, msisdn=msisdn)
    order = await placing.place_order(live.sessions, request, capabilities=capabilities_of("orange"),
                                      pending_ttl=PENDING_TTL)
    started = await starting.start_payment(live.sessions, live.client.app[PROVIDERS], order.id)
    assert started.redirect_url is None and started.status is OrderStatus.PENDING
    assert (await live.settled(order.id)).status is status
    assert await live.votes_for_07() == (4 if status is OrderStatus.PAID else 0)


async def push_order(live: Live, msisdn: str = "+237690000001", quantity: int = 4) -> uuid.UUID:
    request = placing.OrderRequest(live.contest.slug, "07", quantity, "orange", Channel.USSD, msisdn=msisdn)
    order = await placing.place_order(live.sessions, request, capabilities=capabilities_of("orange"),
                                      pending_ttl=PENDING_TTL)
    await starting.start_payment(live.sessions, live.client.app[PROVIDERS], order.id)
    return order.id


async def test_orange_push_duplicate_notifications_count_once(live: Live) -> None:
    live.control.duplicate_callbacks = 20
    order = await live.settled(await push_order(live))
    await asyncio.sleep(0.2)
    await live.client.app[CHECKS].wait_idle()
    assert order.status is OrderStatus.PAID
    assert await live.votes_for_07() == 4


async def test_orange_push_lost_notification_is_recovered_by_the_reconciler(live: Live) -> None:
    live.control.drop_callbacks = True
    order_id = await push_order(live)
    await asyncio.sleep(0.2)
    report = await reconcile(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=31))
    assert report.changed == [(order_id, "counted")]
    assert await live.votes_for_07() == 4


async def test_an_orange_push_cut_short_after_the_prompt_is_still_counted_once(live: Live) -> None:
    """The process dies after Orange sent the prompt but before the start committed its payToken;
    Orange's notification is lost too, so only the reconciler can find the payment."""
    live.control.drop_callbacks = True
    request = placing.OrderRequest(live.contest.slug, "07", 3, "orange", Channel.USSD, msisdn="+237690000001")
    order = await placing.place_order(live.sessions, request, capabilities=capabilities_of("orange"),
                                      pending_ttl=PENDING_TTL)
    providers = live.client.app[PROVIDERS]
    async with live.sessions() as session:
        loaded = await collections.load_collection(session, order.id)
    assert loaded is not None
    remember = partial(starting.keep_start_data, live.sessions, order.id, "orange")
    await providers.for_order("orange", "ussd").start(replace(loaded[1], remember=remember))  # then: killed
    assert (await tables.get_order(live.sessions, order.id)).payment_started_at is None
    await asyncio.sleep(0.2)  # the payer approves
    report = await reconcile(live.sessions, providers, now=datetime.now(UTC) + timedelta(seconds=31))
    assert report.changed == [(order.id, "counted")]
    assert await live.votes_for_07() == 3
    restarted = await starting.start_payment(live.sessions, providers, order.id)
    assert restarted.status is OrderStatus.PAID  # nothing pushed again


async def test_a_forged_orange_push_notification_counts_nothing(live: Live) -> None:
    """Orange's push notifications are not signed: one claiming success is only a reason to ask."""
    order_id = await push_order(live, msisdn="+237690000453")  # Orange says: still pending
    forged = await live.client.post(f"/payments/orange/notify/{order_id}",
                                    json={"status": "SUCCESSFULL", "txnid": "MP-FORGED", "amount": 400})
    assert forged.status == 200  # answered like any notification: a forger learns nothing
    order = await live.settled(order_id, timeout=0.5)
    assert order.status is OrderStatus.PENDING
    assert await live.votes_for_07() == 0
    async with live.sessions() as session:
        kept = (await session.execute(select(ProviderEvent.kind, ProviderEvent.outcome)
                                      .where(ProviderEvent.order_id == order_id))).all()
    assert ("push.successfull", "needs_check") in kept
