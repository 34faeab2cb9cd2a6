"""Card votes end to end through the app: Checkout at the wire (respx), signed webhooks in. A paid Checkout counts
once; replayed, forged and stale events, and events naming another provider's order or none of ours, count
nothing; a wrong amount is flagged; a double-submitted vote gets one order, its idempotency key scoped to the
client; too small an amount, or Stripe not configured, is refused."""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
import respx
from aiohttp.test_utils import TestClient
from sqlalchemy import select, text

from gateway.core.orders.tables import get_order
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, ProviderEvent
from gateway.kit.throttle import UNTIED_LIMIT
from tests.factories import assert_fault_end, assert_tally_invariant, count_orders, make_contest, place, tallies
from tests.order_triggers import before_order_updates
from tests.payments.stripe.card_votes import (
    PAY_URL,
    SECRET,
    card_vote,
    checkout_session,
    post_webhook,
    refunded_charge,
    webhook,
)
from tests.servers import inside_one_window


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


def session_rated(order_id: str, risk_level: str, country: str) -> httpx.Response:
    """Stripe's session with its charge expanded, as its GET answers: Radar's risk level and the card's country."""
    charge = {"id": "ch_7", "object": "charge", "payment_intent": "pi_7", "amount": 500, "currency": "xaf",
              "amount_refunded": 0, "refunded": False, "outcome": {"risk_level": risk_level, "type": "authorized"},
              "payment_method_details": {"type": "card", "card": {"country": country, "brand": "visa"}}}
    return httpx.Response(200, json=checkout_session(
        order_id, status="complete", payment_status="paid",
        payment_intent={"id": "pi_7", "object": "payment_intent", "latest_charge": charge}))


@pytest.mark.parametrize(("risk_level", "country", "outcome"), [
    ("highest", "CM", "held"),  # Radar's strongest doubt: a person looks
    ("elevated", "US", "counted"),  # Radar's doubt and a card from abroad: a diaspora fan, until one more signal
    ("normal", "US", "counted"),
    ("highest", "FR", "held"),
])
async def test_radar_s_word_and_the_card_s_country_are_signals_of_a_card_payment(
        card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router, risk_level: str, country: str,
        outcome: str) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await card_vote(card_client, stripe_wire)
    stripe_wire.get("/v1/checkout/sessions/cs_test_1").mock(return_value=session_rated(order_id, risk_level, country))
    paid = checkout_session(order_id, status="complete", payment_status="paid", payment_intent="pi_7")
    body, headers = webhook("checkout.session.completed", paid, "evt_7")
    assert (await post_webhook(card_client, body, headers))[1]["outcome"] == outcome
    order = await get_order(sessions, uuid.UUID(order_id))
    assert (await tallies(sessions, contest.id))["03"] == (5 if outcome == "counted" else 0)
    if outcome == "held":
        assert order.status is OrderStatus.HELD and "provider_risk" in (order.hold_reason or "")


async def test_a_paid_checkout_whose_count_failed_is_counted_by_stripes_next_delivery_at_once(
        card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router) -> None:
    """PostgreSQL refuses the count once (a trigger, as a full disk or a lost connection would): the event is not
    kept without its count, so Stripe's next delivery is not told to wait while a settling nobody runs times out."""
    contest = await make_contest(sessions, slug="gala")
    order_id = await card_vote(card_client, stripe_wire)
    paid = checkout_session(order_id, status="complete", payment_status="paid", payment_intent="pi_1")
    async with refusing_the_first_count(sessions):
        refused = await card_client.post("/payments/stripe/webhook", data=(delivery := webhook(
            "checkout.session.completed", paid, "evt_1"))[0], headers=delivery[1])
        assert refused.status >= 500  # Stripe delivers it again
        again = await post_webhook(card_client, *webhook("checkout.session.completed", paid, "evt_1"))
    assert again == (200, {"received": True, "outcome": "counted"})
    assert (await tallies(sessions, contest.id))["03"] == 5
    await assert_fault_end(sessions, contest.id, {("checkout.session.completed", "counted"): 1})


async def test_a_delivery_that_counts_notes_its_outcome_on_the_same_event_kept_unsettled_before(
        card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router) -> None:
    """What an earlier release left of a count that failed: the event kept, no outcome, the order pending. The
    next delivery counts it, and the log says so, not an event that led nowhere."""
    contest = await make_contest(sessions, slug="gala")
    order_id = await card_vote(card_client, stripe_wire)
    paid = checkout_session(order_id, status="complete", payment_status="paid", payment_intent="pi_1")
    body, headers = webhook("checkout.session.completed", paid, "evt_1")
    async with sessions.begin() as session:
        session.add(ProviderEvent(provider="stripe", event_id="evt_1", order_id=uuid.UUID(order_id), outcome=None,
                                  kind="checkout.session.completed", headers={}, body=body.decode()))
    assert await post_webhook(card_client, body, headers) == (200, {"received": True, "outcome": "counted"})
    assert (await tallies(sessions, contest.id))["03"] == 5
    await assert_fault_end(sessions, contest.id, {("checkout.session.completed", "counted"): 1})


def refusing_the_first_count(sessions: Sessions) -> AbstractAsyncContextManager[None]:
    """The first pending → paid update fails; a sequence, which a rollback does not undo, says which is first."""
    return before_order_updates(
        sessions, "test_refuse_first_count", "IF OLD.status = 'pending' AND NEW.status = 'paid' AND "
        "nextval('test_counts_tried') = 1 THEN RAISE EXCEPTION 'could not extend file: No space left on device'; "
        "END IF;", counter="test_counts_tried")
