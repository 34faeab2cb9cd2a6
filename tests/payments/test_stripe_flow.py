"""Card votes end to end through the app: Checkout at the wire (respx), signed webhooks in.
Replayed, forged and stale events change nothing; a refund takes the votes back off the board."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import select, text

from assembly.app import create_app
from assembly.settings import Settings
from gateway.core.orders.tables import get_order
from gateway.core.payments.refunds import request_refund
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Contest, OrderStatus, ProviderEvent
from gateway.kit.keys import PROVIDERS
from gateway.kit.throttle import UNTIED_LIMIT
from tests.factories import assert_fault_end, assert_tally_invariant, count_orders, make_contest, place, tallies
from tests.servers import inside_one_window

API = "https://stripe.test"
SECRET = "whsec_test_secret"
PAY_URL = "https://checkout.stripe.test/c/pay/cs_test_1"


@pytest.fixture
def stripe_wire() -> Iterator[respx.Router]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def card_client(clean: None, settings: Settings, stripe_wire: respx.Router) -> AsyncIterator[TestClient]:
    card = settings.model_copy(update={"stripe_secret_key": SecretStr("sk_test_x"),
                                       "stripe_webhook_secret": SecretStr(SECRET), "stripe_api_base": API})
    async with TestClient(TestServer(create_app(card))) as client:
        yield client


def checkout_session(order_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": "cs_test_1", "object": "checkout.session", "url": PAY_URL, "status": "open",
            "payment_status": "unpaid", "amount_total": 500, "currency": "xaf", "payment_intent": None,
            "client_reference_id": order_id, "metadata": {"order_id": order_id}, **fields}


def webhook(kind: str, obj: dict[str, Any], event_id: str, *, secret: str = SECRET,
            timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"id": event_id, "object": "event", "type": kind, "created": int(time.time()),
                       "livemode": False, "data": {"object": obj}}).encode()
    t = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={t},v1={signature}", "Content-Type": "application/json"}


async def card_vote(client: TestClient, stripe_wire: respx.Router, quantity: int = 5) -> str:
    created: dict[str, str] = {}

    def create(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        created["order_id"] = form["client_reference_id"]
        return httpx.Response(200, json=checkout_session(form["client_reference_id"]))

    stripe_wire.post("/v1/checkout/sessions").mock(side_effect=create)
    response = await client.post("/api/v1/contests/gala/votes",
                                 json={"candidate": "03", "quantity": quantity, "provider": "stripe"})
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["next"] == {"action": "redirect", "message": body["next"]["message"], "url": PAY_URL}
    assert body["order"]["id"] == created["order_id"]
    return created["order_id"]


async def post_webhook(client: TestClient, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    response = await client.post("/payments/stripe/webhook", data=body, headers=headers)
    return response.status, await response.json()


async def test_paid_checkout_counts_once_even_when_replayed(card_client: TestClient, sessions: Sessions,
                                                          stripe_wire: respx.Router) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await card_vote(card_client, stripe_wire)
    paid = checkout_session(order_id, status="complete", payment_status="paid", payment_intent="pi_1")
    body, headers = webhook("checkout.session.completed", paid, "evt_1")
    first = await post_webhook(card_client, body, headers)
    replay = await post_webhook(card_client, body, headers)
    assert first == (200, {"received": True, "outcome": "counted"})
    assert replay == (200, {"received": True, "outcome": "duplicate"})
    body2, headers2 = webhook("checkout.session.async_payment_succeeded", paid, "evt_2")
    assert (await post_webhook(card_client, body2, headers2))[1]["outcome"] == "already_decided"
    assert (await tallies(sessions, contest.id))["03"] == 5
    await assert_tally_invariant(sessions, contest.id)


async def test_an_event_stripe_sends_again_hours_later_is_a_duplicate(card_client: TestClient, sessions: Sessions,
                                                                      stripe_wire: respx.Router) -> None:
    """Stripe retries an event it thinks was not received for up to three days, signed afresh each time."""
    contest = await make_contest(sessions, slug="gala")
    order_id = await card_vote(card_client, stripe_wire)
    paid = checkout_session(order_id, status="complete", payment_status="paid", payment_intent="pi_1")
    body, headers = webhook("checkout.session.completed", paid, "evt_1")
    assert (await post_webhook(card_client, body, headers))[1]["outcome"] == "counted"
    async with sessions.begin() as session:  # six hours pass
        await session.execute(text("UPDATE provider_events SET received_at = received_at - interval '6 hours'"))
        await session.execute(text("UPDATE vote_orders SET created_at = created_at - interval '6 hours', "
                                   "decided_at = decided_at - interval '6 hours'"))
    body, headers = webhook("checkout.session.completed", paid, "evt_1")  # a fresh, valid signature
    assert await post_webhook(card_client, body, headers) == (200, {"received": True, "outcome": "duplicate"})
    assert (await tallies(sessions, contest.id))["03"] == 5
    await assert_fault_end(sessions, contest.id, {("checkout.session.completed", "counted"): 1})


async def test_a_signed_event_is_taken_from_an_address_over_the_limit_of_unsigned_ones(
        card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await card_vote(card_client, stripe_wire)
    await inside_one_window()
    forged = [await card_client.post("/payments/stripe/webhook", data=b"{}") for _ in range(UNTIED_LIMIT + 1)]
    assert [r.status for r in forged] == [400] * UNTIED_LIMIT + [429]  # bad_signature, then over the limit
    paid = checkout_session(order_id, status="complete", payment_status="paid", payment_intent="pi_1")
    body, headers = webhook("checkout.session.completed", paid, "evt_1")
    assert await post_webhook(card_client, body, headers) == (200, {"received": True, "outcome": "counted"})
    assert (await tallies(sessions, contest.id))["03"] == 5


@pytest.mark.parametrize("forgery", ["wrong_secret", "stale", "future", "future_odd_header", "missing", "tampered"])
async def test_forged_or_stale_webhook_is_a_400_and_changes_nothing(
    card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router, forgery: str
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await card_vote(card_client, stripe_wire)
    paid = checkout_session(order_id, status="complete", payment_status="paid", payment_intent="pi_1")
    body, headers = webhook("checkout.session.completed", paid, "evt_1",
                            secret="whsec_wrong" if forgery == "wrong_secret" else SECRET,
                            timestamp={"stale": int(time.time()) - 3600,
                                       "future": int(time.time()) + 4000,
                                       "future_odd_header": int(time.time()) + 4000}.get(forgery))
    if forgery == "future_odd_header":  # Stripe's SDK reads `t=<ts>=x` as <ts> and the signature still holds
        t, rest = headers["Stripe-Signature"].split(",", 1)
        headers["Stripe-Signature"] = f"{t}=0,{rest}"
    if forgery == "missing":
        headers.pop("Stripe-Signature")
    if forgery == "tampered":
        body = body.replace(b'"amount_total": 500', b'"amount_total": 5')
    status, answer = await post_webhook(card_client, body, headers)
    assert status == 400 and answer["error"]["code"] == "bad_signature"
    assert (await get_order(sessions, uuid.UUID(order_id))).status is OrderStatus.PENDING
    assert (await tallies(sessions, contest.id))["03"] == 0
    async with sessions() as session:
        event = (await session.scalars(select(ProviderEvent))).one()
    assert event.outcome == "rejected:bad_signature"


async def test_amount_mismatch_is_flagged(card_client: TestClient, sessions: Sessions,
                                          stripe_wire: respx.Router) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await card_vote(card_client, stripe_wire)
    cheap = checkout_session(order_id, status="complete", payment_status="paid", amount_total=100)
    body, headers = webhook("checkout.session.completed", cheap, "evt_1")
    assert (await post_webhook(card_client, body, headers))[1]["outcome"] == "flagged"
    assert (await get_order(sessions, uuid.UUID(order_id))).status is OrderStatus.FLAGGED
    await assert_tally_invariant(sessions, contest.id)


async def paid_by_card(client: TestClient, sessions: Sessions, stripe_wire: respx.Router,
                       intent: str = "pi_9") -> tuple[Contest, str]:
    """A contest and a 5-vote card order paid through Checkout."""
    contest = await make_contest(sessions, slug="gala")
    order_id = await card_vote(client, stripe_wire)
    paid = checkout_session(order_id, status="complete", payment_status="paid", payment_intent=intent)
    await post_webhook(client, *webhook("checkout.session.completed", paid, "evt_1"))
    return contest, order_id


def refunded_charge(amount_refunded: int, intent: str = "pi_9", currency: str = "xaf",
                    order_id: str | None = None) -> dict[str, Any]:
    """Stripe's charge object in charge.refunded for that 500 XAF payment (with the payment intent's
    metadata, which Stripe copies onto the charge, when `order_id` is given)."""
    return {"id": "ch_1", "object": "charge", "payment_intent": intent, "amount": 500,
            "amount_refunded": amount_refunded, "currency": currency, "refunded": amount_refunded >= 500,
            "metadata": {"order_id": order_id} if order_id else {}}


async def test_refund_takes_the_votes_off_the_tally(card_client: TestClient, sessions: Sessions,
                                                   stripe_wire: respx.Router) -> None:
    contest, order_id = await paid_by_card(card_client, sessions, stripe_wire)
    charge = refunded_charge(500)
    status, answer = await post_webhook(card_client, *webhook("charge.refunded", charge, "evt_r"))
    assert (status, answer["outcome"]) == (200, "refunded")
    assert (await get_order(sessions, uuid.UUID(order_id))).status is OrderStatus.REFUNDED
    assert (await tallies(sessions, contest.id))["03"] == 0
    await assert_tally_invariant(sessions, contest.id)


async def test_a_refund_event_cut_short_before_it_was_settled_is_settled_by_stripes_retry(
        card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router) -> None:
    """The process dies after keeping the event and before settling it: paid orders are never polled,
    so Stripe's retry is the refund's only other chance."""
    contest, order_id = await paid_by_card(card_client, sessions, stripe_wire)
    body, headers = webhook("charge.refunded", refunded_charge(500), "evt_r")
    async with sessions.begin() as session:  # what the dead process left: the event kept, no outcome
        session.add(ProviderEvent(provider="stripe", event_id="evt_r", order_id=uuid.UUID(order_id),
                                  kind="charge.refunded", headers={k.lower(): v for k, v in headers.items()},
                                  body=body.decode(), outcome=None))
    early = await post_webhook(card_client, *webhook("charge.refunded", refunded_charge(500), "evt_r"))
    assert early[0] == 503  # maybe still settling elsewhere: Stripe is told to send it again, not that it is done
    async with sessions.begin() as session:  # Stripe retries minutes later, twice at once
        await session.execute(text("UPDATE provider_events SET received_at = received_at - interval '5 minutes'"))
    retries = await asyncio.gather(*(post_webhook(card_client, *webhook("charge.refunded", refunded_charge(500),
                                                                         "evt_r")) for _ in range(2)))
    assert (200, {"received": True, "outcome": "refunded"}) in retries
    assert sorted(status for status, _ in retries) in ([200, 200], [200, 503])  # the other: duplicate, or wait
    assert (await tallies(sessions, contest.id))["03"] == 0
    again = await post_webhook(card_client, *webhook("charge.refunded", refunded_charge(500), "evt_r"))
    assert again == (200, {"received": True, "outcome": "duplicate"})
    await assert_fault_end(sessions, contest.id, {("checkout.session.completed", "counted"): 1,
                                                  ("charge.refunded", "refunded"): 1})


async def test_a_partial_refund_keeps_the_votes_for_a_person_to_review_and_a_full_one_takes_them_off(
        card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router) -> None:
    contest, order_id = await paid_by_card(card_client, sessions, stripe_wire)
    charge = refunded_charge(200)
    status, answer = await post_webhook(card_client, *webhook("charge.refunded", charge, "evt_r1"))
    assert (status, answer["outcome"]) == (200, "partial_refund")
    assert (await get_order(sessions, uuid.UUID(order_id))).status is OrderStatus.PAID
    assert (await tallies(sessions, contest.id))["03"] == 5
    async with sessions() as session:
        entry = (await session.scalars(select(AuditEntry))).one()
    assert (entry.action, entry.target, entry.details["refunded"]) == ("payment.partial_refund", order_id, 200)
    async with sessions.begin() as session:  # its settling was cut short before its outcome was kept
        await session.execute(text("UPDATE provider_events SET outcome = NULL, received_at = received_at - "
                                   "interval '5 minutes' WHERE event_id = 'evt_r1'"))
    status, answer = await post_webhook(card_client, *webhook("charge.refunded", charge, "evt_r1"))
    assert (status, answer["outcome"]) == (200, "partial_refund")
    async with sessions() as session:  # the same refund is not put before a person twice
        assert len((await session.scalars(select(AuditEntry))).all()) == 1
    full = refunded_charge(500)
    assert (await post_webhook(card_client, *webhook("charge.refunded", full, "evt_r2")))[1]["outcome"] == "refunded"
    assert (await tallies(sessions, contest.id))["03"] == 0
    await assert_tally_invariant(sessions, contest.id)


async def test_a_refund_before_the_checkout_completed_ends_the_order_refunded_and_never_counted(
        card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router) -> None:
    """Stripe's events come in any order: the refund of a payment can arrive before its completion."""
    contest = await make_contest(sessions, slug="gala")
    order_id = await card_vote(card_client, stripe_wire)
    refund = webhook("charge.refunded", refunded_charge(500, order_id=order_id), "evt_r")
    assert await post_webhook(card_client, *refund) == (200, {"received": True, "outcome": "refunded"})
    paid = checkout_session(order_id, status="complete", payment_status="paid", payment_intent="pi_9")
    completed = await post_webhook(card_client, *webhook("checkout.session.completed", paid, "evt_1"))
    assert completed == (200, {"received": True, "outcome": "already_decided"})
    resent = webhook("charge.refunded", refunded_charge(500, order_id=order_id), "evt_r")  # signed afresh
    assert await post_webhook(card_client, *resent) == (200, {"received": True, "outcome": "duplicate"})
    order = await get_order(sessions, uuid.UUID(order_id))
    assert order.status is OrderStatus.REFUNDED and "before it was counted" in (order.status_reason or "")
    assert (await tallies(sessions, contest.id))["03"] == 0
    await assert_fault_end(sessions, contest.id, {("charge.refunded", "refunded"): 1,
                                                  ("checkout.session.completed", "already_decided"): 1})


def session_with_its_charge(order_id: str, request: httpx.Request, amount_refunded: int) -> httpx.Response:
    """Stripe's answer to a session GET: the payment intent and its latest charge only when asked to expand them."""
    intent: Any = "pi_9"
    if "payment_intent.latest_charge" in request.url.params.get_list("expand[0]"):
        intent = {"id": "pi_9", "object": "payment_intent", "latest_charge": {
            "id": "ch_1", "object": "charge", "payment_intent": "pi_9", "amount": 500, "currency": "xaf",
            "amount_refunded": amount_refunded, "refunded": amount_refunded >= 500}}
    return httpx.Response(200, json=checkout_session(order_id, status="complete", payment_status="paid",
                                                     payment_intent=intent))


async def decided(sessions: Sessions, order_id: str) -> OrderStatus:
    """The order's status once the check the return page asked for has settled it."""
    for _ in range(500):
        status = (await get_order(sessions, uuid.UUID(order_id))).status
        if status is not OrderStatus.PENDING:
            return status
        await asyncio.sleep(0.01)
    raise AssertionError("the order was never decided")


@pytest.mark.parametrize(("amount_refunded", "ends"), [(500, OrderStatus.REFUNDED), (200, OrderStatus.FLAGGED)])
async def test_a_refund_seen_by_the_status_check_is_never_counted(
        card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router, amount_refunded: int,
        ends: OrderStatus) -> None:
    """The payer comes back from Checkout (?from=stripe) after the payment was refunded and before any webhook:
    the session still says "paid", its charge says how much went back."""
    contest = await make_contest(sessions, slug="gala")
    order_id = await card_vote(card_client, stripe_wire)
    stripe_wire.get("/v1/checkout/sessions/cs_test_1").mock(
        side_effect=lambda request: session_with_its_charge(order_id, request, amount_refunded))
    assert (await card_client.get(f"/orders/{order_id}", params={"from": "stripe"})).status == 200
    assert await decided(sessions, order_id) is ends
    assert (await tallies(sessions, contest.id))["03"] == 0
    await assert_tally_invariant(sessions, contest.id)


async def test_a_partial_refund_before_the_order_is_counted_flags_it_and_it_is_never_counted(
        card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await card_vote(card_client, stripe_wire)
    partial = webhook("charge.refunded", refunded_charge(200, order_id=order_id), "evt_r1")
    assert await post_webhook(card_client, *partial) == (200, {"received": True, "outcome": "partial_refund"})
    paid = checkout_session(order_id, status="complete", payment_status="paid", payment_intent="pi_9")
    completed = await post_webhook(card_client, *webhook("checkout.session.completed", paid, "evt_1"))
    assert completed[1]["outcome"] == "already_decided"
    order = await get_order(sessions, uuid.UUID(order_id))
    assert order.status is OrderStatus.FLAGGED and "partial refund of 200 XAF" in (order.status_reason or "")
    assert (await tallies(sessions, contest.id))["03"] == 0
    async with sessions() as session:
        entry = (await session.scalars(select(AuditEntry))).one()
    assert (entry.action, entry.target, entry.details["refunded"]) == ("payment.partial_refund", order_id, 200)
    full = webhook("charge.refunded", refunded_charge(500, order_id=order_id), "evt_r2")  # the rest, later
    assert (await post_webhook(card_client, *full))[1]["outcome"] == "refunded"
    assert (await get_order(sessions, uuid.UUID(order_id))).status is OrderStatus.REFUNDED
    await assert_fault_end(sessions, contest.id, {("charge.refunded", "partial_refund"): 1,
                                                  ("checkout.session.completed", "already_decided"): 1,
                                                  ("charge.refunded", "refunded"): 1})


@pytest.mark.parametrize("kind", ["checkout.session.completed", "checkout.session.expired", "charge.refunded"])
async def test_a_stripe_event_naming_another_providers_order_changes_nothing(
        card_client: TestClient, sessions: Sessions, kind: str) -> None:
    """Signed by Stripe, but the order it names is paid by MTN: Stripe's word proves nothing about it."""
    contest = await make_contest(sessions, slug="gala")
    mtn_order = await place(sessions, contest, "03", quantity=5)  # 500 XAF, like the session
    assert mtn_order.provider == "mtn"
    named = str(mtn_order.id)
    obj = (refunded_charge(500, order_id=named) if kind == "charge.refunded" else
           checkout_session(named, status="complete", payment_status="paid", payment_intent="pi_1"))
    assert await post_webhook(card_client, *webhook(kind, obj, "evt_1")) == (
        200, {"received": True, "outcome": "other_provider"})
    assert (await get_order(sessions, mtn_order.id)).status is OrderStatus.PENDING
    assert (await tallies(sessions, contest.id))["03"] == 0
    await assert_fault_end(sessions, contest.id, {(kind, "other_provider"): 1})


async def test_a_stripe_event_naming_no_order_of_ours_is_kept_as_unknown(card_client: TestClient,
                                                                         sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala")
    nobody = checkout_session(str(uuid.uuid4()), status="complete", payment_status="paid", payment_intent="pi_1")
    assert await post_webhook(card_client, *webhook("checkout.session.completed", nobody, "evt_1")) == (
        200, {"received": True, "outcome": "unknown_order"})
    await assert_fault_end(sessions, contest.id, {("checkout.session.completed", "unknown_order"): 1})


async def test_a_double_submitted_card_vote_gets_one_order_and_the_same_checkout_page_twice(
        card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router) -> None:
    await make_contest(sessions, slug="gala")
    created: list[str] = []

    async def slow_create(request: httpx.Request) -> httpx.Response:
        created.append(dict(httpx.QueryParams(request.content.decode()))["client_reference_id"])
        await asyncio.sleep(0.5)  # Stripe takes its time: the second submission arrives meanwhile
        return httpx.Response(200, json=checkout_session(created[-1]))

    stripe_wire.post("/v1/checkout/sessions").mock(side_effect=slow_create)
    vote = {"candidate": "03", "quantity": 5, "provider": "stripe"}
    first, second = await asyncio.gather(*(
        card_client.post("/api/v1/contests/gala/votes", json=vote, headers={"Idempotency-Key": "tap-tap"})
        for _ in range(2)))
    assert (first.status, second.status) == (201, 201)
    answers = [await first.json(), await second.json()]
    assert answers[0]["order"]["id"] == answers[1]["order"]["id"] == created[0] and len(created) == 1
    assert answers[0]["next"]["url"] == answers[1]["next"]["url"] == PAY_URL
    assert await count_orders(sessions) == 1


async def test_an_idempotency_key_of_a_card_vote_is_scoped_to_the_client(
        card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router) -> None:
    """A card vote names no payer: another client reusing the key must not get this order and its page."""
    await make_contest(sessions, slug="gala")
    stripe_wire.post("/v1/checkout/sessions").mock(side_effect=lambda request: httpx.Response(
        200, json=checkout_session(dict(httpx.QueryParams(request.content.decode()))["client_reference_id"])))
    vote = {"candidate": "03", "quantity": 5, "provider": "stripe"}

    async def order_of(address: str) -> str:
        headers = {"Idempotency-Key": "1", "X-Forwarded-For": address}  # the test's proxy is trusted (loopback)
        response = await card_client.post("/api/v1/contests/gala/votes", json=vote, headers=headers)
        assert response.status == 201
        return str((await response.json())["order"]["id"])

    alice = await order_of("198.51.100.7")
    assert await order_of("203.0.113.9") != alice  # another client, the same key: an order of its own
    assert await order_of("198.51.100.7") == alice  # the same client again: its own order back
    assert await count_orders(sessions) == 2


async def test_a_refund_in_another_currency_is_left_to_a_person_with_the_votes_kept(
        card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router) -> None:
    contest, order_id = await paid_by_card(card_client, sessions, stripe_wire)
    charge = refunded_charge(5000, currency="eur")  # 5000 cents are not 5000 francs: nothing to compare
    status, answer = await post_webhook(card_client, *webhook("charge.refunded", charge, "evt_r3"))
    assert (status, answer["outcome"]) == (200, "partial_refund")
    assert (await get_order(sessions, uuid.UUID(order_id))).status is OrderStatus.PAID
    assert (await tallies(sessions, contest.id))["03"] == 5
    async with sessions() as session:
        entry = (await session.scalars(select(AuditEntry))).one()
    assert (entry.details["currency"], entry.details["order_currency"]) == ("EUR", "XAF")


async def test_card_amount_too_small_is_refused_with_a_clear_message(
    card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router
) -> None:
    await make_contest(sessions, slug="gala")
    stripe_wire.post("/v1/checkout/sessions").respond(400, json={"error": {
        "type": "invalid_request_error", "code": "amount_too_small", "message": "Amount must be at least 330 XAF"}})
    response = await card_client.post("/api/v1/contests/gala/votes",
                                      json={"candidate": "03", "quantity": 1, "provider": "stripe"})
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "payment_refused" and "more votes" in error["message"]
    assert await count_orders(sessions) == 1  # kept as failed, for the record; nothing counted


async def test_card_votes_are_refused_when_stripe_is_not_configured(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    response = await client.post("/api/v1/contests/gala/votes",
                                 json={"candidate": "03", "quantity": 5, "provider": "stripe"})
    assert response.status == 422
    assert (await response.json())["error"]["code"] == "provider_unavailable"
    assert await count_orders(sessions) == 0


async def test_refund_through_stripe_takes_votes_off_and_the_webhook_changes_nothing_more(
    card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router
) -> None:
    contest, order_id = await paid_by_card(card_client, sessions, stripe_wire, intent="pi_7")
    refund = stripe_wire.post("/v1/refunds").respond(200, json={
        "id": "re_1", "object": "refund", "status": "succeeded", "amount": 500, "currency": "xaf",
        "payment_intent": "pi_7"})
    outcome = await request_refund(sessions, card_client.app[PROVIDERS], uuid.UUID(order_id), "ops@example.com")
    assert outcome.status is OrderStatus.REFUNDED
    assert "payment_intent=pi_7" in refund.calls[0].request.content.decode()
    assert (await tallies(sessions, contest.id))["03"] == 0
    charge = refunded_charge(500, intent="pi_7")
    assert (await post_webhook(card_client, *webhook("charge.refunded", charge, "evt_r")))[1]["outcome"] == \
        "already_decided"
    await assert_tally_invariant(sessions, contest.id)
