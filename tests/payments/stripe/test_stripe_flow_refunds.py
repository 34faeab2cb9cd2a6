"""Card refunds end to end through the app: Checkout at the wire (respx), signed webhooks in. A refund takes the
votes back off the board, even one cut short and settled by Stripe's retry, one the status check sees first and one
before its payment's completion; a partial refund, or one in another currency, is left to a person; after a refund
through Stripe its webhook changes nothing more."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
import respx
from aiohttp.test_utils import TestClient
from sqlalchemy import select, text

from gateway.core.audit import Actor
from gateway.core.money_out import settlements
from gateway.core.money_out.refunds import request_refund
from gateway.core.orders.tables import get_order
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, OrderStatus, ProviderEvent
from gateway.kit.keys import PROVIDERS
from tests.factories import assert_fault_end, assert_tally_invariant, make_contest, tallies
from tests.payments.stripe.card_votes import (
    card_vote,
    checkout_session,
    paid_by_card,
    post_webhook,
    refunded_charge,
    webhook,
)


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
    assert await refunds_in_settlement(sessions, contest.id) == 200  # gone back: not the organiser's to be paid
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
    assert await refunds_in_settlement(sessions, contest.id) == 500  # the whole payment, its part not counted twice


async def refunds_in_settlement(sessions: Sessions, contest_id: int) -> int:
    [figures] = (await settlements.settlement(sessions, Actor(None, "owner@example.org", "owner"), contest_id)).figures
    return figures.refunds


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


async def test_a_dispute_takes_the_votes_off_once_and_ends_the_order_charged_back(
        card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await card_vote(card_client, stripe_wire)
    paid = checkout_session(order_id, status="complete", payment_status="paid", payment_intent="pi_d")
    assert (await post_webhook(card_client, *webhook("checkout.session.completed", paid, "evt_d1")))[1][
        "outcome"] == "counted"
    dispute = {"id": "dp_1", "object": "dispute", "amount": 500, "currency": "xaf", "charge": "ch_d",
               "payment_intent": "pi_d", "reason": "fraudulent", "status": "needs_response", "metadata": {}}
    body, headers = webhook("charge.dispute.created", dispute, "evt_d2")
    assert await post_webhook(card_client, body, headers) == (200, {"received": True, "outcome": "charged_back"})
    assert (await post_webhook(card_client, body, headers))[1]["outcome"] == "duplicate"
    assert (await tallies(sessions, contest.id))["03"] == 0
    await assert_tally_invariant(sessions, contest.id)
    order = await get_order(sessions, uuid.UUID(order_id))
    assert order.status is OrderStatus.REFUNDED and order.status_reason == "charged back: fraudulent"
