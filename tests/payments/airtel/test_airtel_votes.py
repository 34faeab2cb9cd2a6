"""Votes paid by Airtel Money end to end over real localhost HTTP: our app and the Airtel sandbox, the sandbox calling
back on the application's URL with its hash. Each test ends with the tally invariant."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from assembly.settings import Settings
from assembly.web.keys import STARTS
from gateway.core.money_in.reconciler import reconcile
from gateway.core.money_in.verification.by_status import verify_due
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus, PaymentVerification, ProviderEvent, VoteOrder
from gateway.kit.keys import CHECKS, PROVIDERS, SESSIONS
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.factories import assert_tally_invariant, make_contest, tallies
from tests.live_app import SettlingOrders, app_beside
from tests.waiting import until_true

UGANDAN = "+256700000001"  # an Airtel Uganda number: any ending but the sandbox's magic ones pays


@dataclass
class Live(SettlingOrders):
    client: TestClient
    control: SandboxControl
    sessions: Sessions
    contest: Contest

    async def vote(self, msisdn: str = UGANDAN, quantity: int = 5) -> uuid.UUID:
        response = await self.client.post(f"/api/v1/contests/{self.contest.slug}/votes", json={
            "candidate": "07", "quantity": quantity, "provider": "airtel", "msisdn": msisdn},
            headers={"X-Forwarded-For": f"41.210.{int(msisdn[-6:-3]) % 250}.{int(msisdn[-3:]) % 250 + 1}"})
        assert response.status == 201, await response.text()
        order_id = uuid.UUID((await response.json())["order"]["id"])
        await self.client.app[STARTS].wait_idle()  # the prompt goes out after the reply
        return order_id

    async def votes_for_07(self) -> int:
        await assert_tally_invariant(self.sessions, self.contest.id)
        return (await tallies(self.sessions, self.contest.id))["07"]

    async def events(self, kind: str = "callback.%") -> int:
        """Airtel's callbacks kept (of one kind), not what a start keeps of its own."""
        query = select(func.count()).select_from(ProviderEvent).where(ProviderEvent.provider == "airtel",
                                                                      ProviderEvent.kind.like(kind))
        async with self.sessions() as session:
            return int(await session.scalar(query) or 0)

    async def verify(self) -> None:
        """The verification pass, on a clock an hour ahead: the enquiry a callback-counted order is checked by; then
        every entry verified, whoever verified it. The app's own verification loop claims an entry due on the real
        clock (30 s after its count, sooner on a busy machine's test than it looks) and may hold it while this pass
        finds nothing: the outcome is read once that enquiry is over too."""
        await verify_due(self.sessions, self.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(hours=1))
        unverified = select(func.count()).select_from(PaymentVerification).where(
            PaymentVerification.verified_at.is_(None))

        async def all_verified() -> bool:
            async with self.sessions() as session:
                return not await session.scalar(unverified)

        await until_true(all_verified, "an entry was never verified")

    async def callback(self, body: Mapping[str, object]) -> int:
        response = await self.client.post("/payments/airtel/callback", data=json.dumps(body),
                                          headers={"Content-Type": "application/json"})
        return response.status


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[Live]:
    control = SandboxControl(success_delay=0.05, long_delay=0.3)
    async with TestServer(create_sandbox_app(control)) as sandbox:
        async with app_beside(sandbox, settings) as client:
            # The application's callback URL, as set in Airtel's portal.
            async with client.session.post(sandbox.make_url("/airtel/_app"), json={
                    "callback_url": str(client.make_url("/payments/airtel/callback"))}) as answer:
                assert answer.status == 200
            contest = await make_contest(sessions, candidates=8, currency="UGX", price_per_vote=500,
                                         providers=["airtel", "mtn"])
            yield Live(client, control, client.app[SESSIONS], contest)


async def test_a_vote_is_counted_once_from_its_hashed_callback_and_agreed_by_the_enquiry(live: Live) -> None:
    order = await live.settled(await live.vote())
    assert order.status is OrderStatus.PAID and order.amount == 2500 and order.currency == "UGX"
    assert order.provider_txn_id and order.provider_txn_id.startswith("MP")  # Airtel's own id, for support
    assert await live.events("callback.ts") == 1
    assert await live.votes_for_07() == 5
    await live.verify()
    async with live.sessions() as session:
        outcome = await session.scalar(select(PaymentVerification.outcome)
                                       .where(PaymentVerification.order_id == order.id))
    assert outcome == "agreed"
    assert (await tables.get_order(live.sessions, order.id)).status is OrderStatus.PAID
    assert await live.votes_for_07() == 5


async def test_duplicate_callbacks_count_once(live: Live) -> None:
    live.control.duplicate_callbacks = 6
    order = await live.settled(await live.vote(quantity=3))
    assert order.status is OrderStatus.PAID
    for _ in range(100):  # every copy lands, however busy the machine
        if await live.events() >= 6:
            break
        await asyncio.sleep(0.05)
    await live.client.app[CHECKS].wait_idle()
    assert await live.events() == 6
    assert await live.votes_for_07() == 3


@pytest.mark.parametrize(("msisdn", "reason"), [
    ("+256700000451", "NOT_ENOUGH_FUNDS"), ("+256700000452", "WRONG_PIN"), ("+256700000455", "PAYER_NOT_FOUND"),
    ("+256700000456", "PAYMENT_REFUSED"), ("+256700000459", "EXPIRED")])
async def test_a_failed_payment_ends_failed_with_what_the_voter_is_told(live: Live, msisdn: str, reason: str) -> None:
    order = await live.settled(await live.vote(msisdn))
    assert order.status is OrderStatus.FAILED and (order.status_reason or "").endswith(f"({reason})")
    assert await live.votes_for_07() == 0


async def test_a_lost_callback_is_found_by_the_reconciler(live: Live) -> None:
    live.control.drop_callbacks = True
    order_id = await live.vote()
    await asyncio.sleep(0.2)
    assert (await tables.get_order(live.sessions, order_id)).status is OrderStatus.PENDING
    report = await reconcile(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=31))
    assert report.changed == [(order_id, "counted")]
    assert await live.votes_for_07() == 5


async def test_a_forged_callback_changes_nothing(live: Live) -> None:
    order_id = await live.vote("+256700000453")  # the payer never answers: the order stays pending
    forged = {"transaction": {"id": order_id.hex, "message": "Paid", "status_code": "TS", "airtel_money_id": "MP1"}}
    assert await live.callback({**forged, "hash": "bm90IHRoZSBrZXk="}) == 400
    assert await live.callback(forged) == 400  # no hash, where the application hashes its callbacks
    assert await live.events("rejected") == 2
    assert (await tables.get_order(live.sessions, order_id)).status is OrderStatus.PENDING
    assert await live.votes_for_07() == 0


@pytest.mark.parametrize("msisdn", ["+256700000453", "+256700000458"])  # TIP for good, TA for good
async def test_an_ambiguous_or_in_progress_payment_is_still_pending(live: Live, msisdn: str) -> None:
    order_id = await live.vote(msisdn)
    report = await reconcile(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=31))
    assert report.changed == []
    assert (await tables.get_order(live.sessions, order_id)).status is OrderStatus.PENDING
    assert await live.votes_for_07() == 0


async def test_a_callback_the_enquiry_contradicts_takes_the_votes_back_off(live: Live) -> None:
    order = await live.settled(await live.vote("+256700000457"))
    assert order.status is OrderStatus.PAID and await live.votes_for_07() == 5
    await live.verify()
    assert (await tables.get_order(live.sessions, order.id)).status is OrderStatus.FLAGGED
    assert await live.votes_for_07() == 0


async def test_a_number_airtel_does_not_serve_is_refused_before_any_prompt(live: Live) -> None:
    """A Cameroonian number on a Ugandan contest (no Airtel Money there, nor this contest's currency): refused when
    the vote is placed, naming what the contest takes; no order, nothing asked of Airtel."""
    response = await live.client.post(f"/api/v1/contests/{live.contest.slug}/votes", json={
        "candidate": "07", "quantity": 5, "provider": "airtel", "msisdn": "+237670000001"})
    error = (await response.json())["error"]
    assert response.status == 422 and error["code"] == "number_not_served" and "+256" in error["message"]
    async with live.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(VoteOrder)) == 0
    assert await live.events("%") == 0 and await live.votes_for_07() == 0


async def test_a_push_whose_answer_was_lost_is_paid_all_the_same(live: Live) -> None:
    await live.settled(await live.vote())  # the application's token is held by now
    live.control.lose_answers = 1  # the next push reaches Airtel, its answer never comes back
    order_id = await live.vote(quantity=2)
    started = await tables.get_order(live.sessions, order_id)
    assert started.payment_started_at is not None  # asked about and found: the prompt is out, none sent again
    order = await live.settled(order_id)
    assert order.status is OrderStatus.PAID
    assert await live.votes_for_07() == 7


async def test_a_payer_who_never_answers_is_expired_after_the_window(live: Live) -> None:
    order_id = await live.vote("+256700000453")  # TIP for good at Airtel
    report = await reconcile(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=11))
    assert report.changed == [(order_id, "expired")]
    assert await live.votes_for_07() == 0


async def test_votes_are_all_counted_while_airtel_refuses_every_second_request_over_its_rate(live: Live) -> None:
    live.control.throttle_share = 0.5  # every second request answers 429: sent again later, never a refusal
    orders = [await live.vote(msisdn=f"+2567000003{n:02d}", quantity=1) for n in range(4)]
    settled = [await live.settled(order_id, timeout=15) for order_id in orders]
    assert {order.status for order in settled} == {OrderStatus.PAID}
    assert await live.votes_for_07() == 4
