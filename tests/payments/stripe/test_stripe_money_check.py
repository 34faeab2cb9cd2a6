"""The books against Stripe's, Stripe faked at the wire (respx): a card payment of ours agrees with its session; a
charge in Stripe's balance transactions that names no order of ours (or an order we never made) is money taken
that no vote asked for, reported; every page of the list is read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import respx
from sqlalchemy import update

from gateway.core.money_out.money_reconciliation import reconcile_money
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.db.models import VoteOrder
from payments.stripe import StripeCheckout
from tests.factories import make_contest, place
from tests.payments.stripe.stripe_checkout import session
from tests.provider_registry import registry_of


async def no_pace(provider: object) -> None:
    return None


def line(txn: str, amount: int, metadata: dict[str, str]) -> dict[str, Any]:
    """A balance transaction of a charge, its source expanded (settled in EUR: the charge's own amount is what
    the books know)."""
    return {"id": f"txn_{txn}", "object": "balance_transaction", "type": "charge", "amount": amount // 650,
            "currency": "eur", "source": {"id": f"ch_{txn}", "object": "charge", "amount": amount, "currency": "xaf",
                                          "metadata": metadata}}


async def test_a_charge_that_names_no_order_of_ours_is_reported(clean: None, sessions: Sessions,
                                                                provider: StripeCheckout,
                                                                stripe_api: respx.MockRouter) -> None:
    contest = await make_contest(sessions)
    order = await place(sessions, contest, quantity=5, provider="stripe", msisdn=None)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", "pi_1", provider="stripe")
    async with sessions.begin() as s:
        await s.execute(update(VoteOrder).where(VoteOrder.id == order.id)
                        .values(provider_data={"session_id": "cs_test_1", "payment_intent": "pi_1"}))
    stripe_api.get("/v1/checkout/sessions/cs_test_1").respond(
        200, json=session(status="complete", payment_status="paid", payment_intent="pi_1"))
    stranger = uuid.uuid4()
    first = {"object": "list", "url": "/v1/balance_transactions", "has_more": True,
             "data": [line("1", 500, {"order_id": str(order.id)}), line("2", 700, {"order_id": str(stranger)})]}
    second = {"object": "list", "url": "/v1/balance_transactions", "has_more": False,
              "data": [line("3", 300, {})]}
    listed = stripe_api.get("/v1/balance_transactions").mock(side_effect=[
        respx.MockResponse(200, json=first), respx.MockResponse(200, json=second)])
    registry = registry_of(stripe=provider)

    report = await reconcile_money(sessions, registry, "stripe", datetime.now(UTC).date(), no_pace)

    assert report.checked == 1 and listed.call_count == 2  # every page
    assert "type=charge" in str(listed.calls[0].request.url) and "starting_after=txn_2" in str(
        listed.calls[1].request.url)
    gaps = sorted((gap.what, gap.entry.amount, gap.word.status) for gap in report.differences)
    assert gaps == [("missing_in_books", 300, "charged (ch_3)"), ("missing_in_books", 700, "charged (ch_2)")]


async def test_a_refunded_card_payment_agrees_with_stripe(clean: None, sessions: Sessions, provider: StripeCheckout,
                                                          stripe_api: respx.MockRouter) -> None:
    contest = await make_contest(sessions)
    order = await place(sessions, contest, quantity=5, provider="stripe", msisdn=None)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", "pi_1", provider="stripe")
    async with sessions.begin() as s:  # paid, then given back in full: the money came in, as the books say
        await s.execute(update(VoteOrder).where(VoteOrder.id == order.id).values(
            status="refunded", provider_data={"session_id": "cs_test_1", "payment_intent": "pi_1"}))
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_1", "amount": 500, "currency": "xaf",
              "amount_refunded": 500, "refunded": True}
    stripe_api.get("/v1/checkout/sessions/cs_test_1").respond(200, json=session(
        status="complete", payment_status="paid",
        payment_intent={"id": "pi_1", "object": "payment_intent", "latest_charge": charge}))
    stripe_api.get("/v1/balance_transactions").respond(200, json={
        "object": "list", "url": "/v1/balance_transactions", "has_more": False,
        "data": [line("1", 500, {"order_id": str(order.id)})]})
    registry = registry_of(stripe=provider)

    report = await reconcile_money(sessions, registry, "stripe", datetime.now(UTC).date(), no_pace)

    assert (report.checked, report.differences) == (1, [])
