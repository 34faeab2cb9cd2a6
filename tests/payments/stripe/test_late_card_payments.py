"""A card payment whose signed Stripe webhook comes after the lines closed and the contest's grace: never counted, the
payer told so on the order's page, and the money given back through Stripe's refund API by the worker's pass, once; a
replayed webhook changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import respx
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from gateway.core.money_out.late_refunds import refund_late_orders
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus
from gateway.kit.keys import PROVIDERS
from tests.factories import assert_tally_invariant, make_contest, tallies
from tests.payments.stripe.card_votes import card_vote, checkout_session, post_webhook, webhook


async def test_a_card_payment_after_the_grace_is_refunded_through_stripe_and_never_counted(
        card_client: TestClient, sessions: Sessions, stripe_wire: respx.Router) -> None:
    contest = await make_contest(sessions, slug="gala", late_grace_seconds=0)
    order_id = await card_vote(card_client, stripe_wire)
    placed = await tables.get_order(sessions, uuid.UUID(order_id))
    async with sessions.begin() as session:  # the lines closed just after the vote; no grace: the webhook is late
        await session.execute(update(Contest).where(Contest.id == contest.id)
                              .values(closes_at=placed.created_at + timedelta(milliseconds=1)))
    paid = checkout_session(order_id, status="complete", payment_status="paid", payment_intent="pi_late")
    assert await post_webhook(card_client, *webhook("checkout.session.completed", paid, "evt_1")) == (
        200, {"received": True, "outcome": "late"})
    assert (await tables.get_order(sessions, placed.id)).status is OrderStatus.LATE
    assert (await tallies(sessions, contest.id))["03"] == 0
    page = await (await card_client.get(f"/orders/{order_id}", params={"lang": "en"})).text()
    assert "Too late to count" in page

    stripe_wire.get("/v1/checkout/sessions/cs_test_1").respond(200, json=paid)  # Stripe: the money came in
    refunds = stripe_wire.post("/v1/refunds").mock(return_value=httpx.Response(200, json={
        "id": "re_1", "object": "refund", "status": "succeeded", "amount": 500, "currency": "xaf",
        "payment_intent": "pi_late"}))
    later = datetime.now(UTC) + timedelta(minutes=1)
    providers = card_client.app[PROVIDERS]
    assert await refund_late_orders(sessions, providers, later) == [f"{order_id}: refunded"]
    assert await refund_late_orders(sessions, providers, later) == []
    assert refunds.call_count == 1 and "payment_intent=pi_late" in refunds.calls[0].request.content.decode()
    assert (await tables.get_order(sessions, placed.id)).status is OrderStatus.REFUNDED
    # Stripe sends the event again: nothing moves.
    assert await post_webhook(card_client, *webhook("checkout.session.completed", paid, "evt_2")) == (
        200, {"received": True, "outcome": "already_decided"})
    assert (await tables.get_order(sessions, placed.id)).status is OrderStatus.REFUNDED
    await assert_tally_invariant(sessions, contest.id)
