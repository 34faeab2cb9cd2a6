"""The Stripe Checkout provider's webhooks, signed with a real HMAC: Checkout session and refund events, sessions
and events not ours, forged, tampered and stale callbacks refused, the timestamp's tolerance either side."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest

from gateway.core.providers import CallbackRejected, InboundCallback, PaymentState
from payments.stripe import StripeCheckout
from tests.payments.stripe.stripe_checkout import ORDER_ID, WEBHOOK_SECRET, collection, session


def event(kind: str, obj: dict[str, Any], event_id: str = "evt_1") -> dict[str, Any]:
    return {"id": event_id, "object": "event", "type": kind, "created": int(time.time()), "livemode": False,
            "data": {"object": obj}}


def signed(payload: dict[str, Any] | bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None,
           header_name: str = "stripe-signature") -> InboundCallback:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    t = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return InboundCallback(order_id=None, headers={header_name: f"t={t},v1={signature}"}, body=body)


async def test_completed_and_paid_is_proof_of_payment(provider: StripeCheckout) -> None:
    paid = session(status="complete", payment_status="paid", payment_intent="pi_1")
    callback = signed(event("checkout.session.completed", paid, "evt_paid"), header_name="Stripe-Signature")

    verdict = await provider.verify_callback(callback, None)

    assert (verdict.order_id, verdict.kind, verdict.event_id) == (ORDER_ID, "checkout.session.completed", "evt_paid")
    assert verdict.status is not None
    assert (verdict.status.state, verdict.status.amount, verdict.status.currency, verdict.status.provider_txn_id) == (
        PaymentState.SUCCESSFUL, 500, "XAF", "pi_1")


@pytest.mark.parametrize(("kind", "fields", "state"), [
    ("checkout.session.completed", {"status": "complete", "payment_status": "unpaid"}, PaymentState.PENDING),
    ("checkout.session.async_payment_succeeded", {"status": "complete", "payment_status": "paid"},
     PaymentState.SUCCESSFUL),
    ("checkout.session.async_payment_failed", {"status": "complete", "payment_status": "unpaid"},
     PaymentState.FAILED),
    ("checkout.session.expired", {"status": "expired", "payment_status": "unpaid"}, PaymentState.EXPIRED),
])
async def test_checkout_session_events(provider: StripeCheckout, kind: str, fields: dict[str, Any],
                                       state: PaymentState) -> None:
    verdict = await provider.verify_callback(signed(event(kind, session(payment_intent="pi_1", **fields))), None)

    assert verdict.order_id == ORDER_ID and verdict.kind == kind and verdict.status is not None
    assert verdict.status.state is state
    if state is PaymentState.SUCCESSFUL:
        assert (verdict.status.amount, verdict.status.currency, verdict.status.provider_txn_id) == (500, "XAF", "pi_1")
    if state is PaymentState.FAILED:
        assert verdict.status.reason == "async_payment_failed"


async def test_a_session_that_is_not_ours_has_no_order(provider: StripeCheckout) -> None:
    foreign = session(status="complete", payment_status="paid", client_reference_id="shop-42", metadata={})

    verdict = await provider.verify_callback(signed(event("checkout.session.completed", foreign)), None)

    assert verdict.order_id is None


@pytest.mark.parametrize(("metadata", "order_id"), [({"order_id": str(ORDER_ID)}, ORDER_ID), ({}, None)])
async def test_charge_refunded(provider: StripeCheckout, metadata: dict[str, str], order_id: uuid.UUID | None) -> None:
    charge = {"id": "ch_1", "object": "charge", "amount": 500, "amount_refunded": 500, "currency": "xaf",
              "refunded": True, "payment_intent": "pi_1", "metadata": metadata}

    verdict = await provider.verify_callback(signed(event("charge.refunded", charge, "evt_refund")), None)

    assert (verdict.order_id, verdict.kind, verdict.event_id) == (order_id, "charge.refunded", "evt_refund")
    assert verdict.status is not None
    assert (verdict.status.state, verdict.status.amount, verdict.status.currency, verdict.status.provider_txn_id) == (
        PaymentState.REFUNDED, 500, "XAF", "pi_1")


async def test_other_events_are_ignored(provider: StripeCheckout) -> None:
    intent = {"id": "pi_1", "object": "payment_intent", "metadata": {"order_id": str(ORDER_ID)}}

    verdict = await provider.verify_callback(signed(event("payment_intent.created", intent, "evt_x")), None)

    assert (verdict.order_id, verdict.kind, verdict.event_id, verdict.status) == (
        None, "payment_intent.created", "evt_x", None)


def forged_callbacks() -> list[tuple[str, InboundCallback]]:
    paid = event("checkout.session.completed", session(status="complete", payment_status="paid"))
    genuine = signed(paid)
    return [
        ("wrong secret", signed(paid, secret="whsec_someone_else")),
        ("tampered body", dataclasses.replace(genuine, body=genuine.body.replace(b"500", b"5000"))),
        ("stale timestamp", signed(paid, timestamp=int(time.time()) - 3600)),
        ("future timestamp", signed(paid, timestamp=int(time.time()) + 4000)),  # construct_event bounds the past only
        ("missing header", dataclasses.replace(genuine, headers={})),
        ("garbage header", dataclasses.replace(genuine, headers={"Stripe-Signature": "nonsense"})),
        ("signed garbage", signed(b"not json")),
    ]


@pytest.mark.parametrize("callback", [c for _, c in forged_callbacks()], ids=[n for n, _ in forged_callbacks()])
async def test_unverifiable_callbacks_are_rejected(provider: StripeCheckout, callback: InboundCallback) -> None:
    with pytest.raises(CallbackRejected) as caught:
        await provider.verify_callback(callback, collection())

    assert caught.value.code == "bad_signature" and not caught.value.retryable


@pytest.mark.parametrize("skew", [-290, 290])
async def test_a_timestamp_within_the_tolerance_either_side_is_accepted(provider: StripeCheckout, skew: int) -> None:
    paid = event("checkout.session.completed", session(status="complete", payment_status="paid"))

    verdict = await provider.verify_callback(signed(paid, timestamp=int(time.time()) + skew), None)

    assert verdict.status is not None and verdict.status.state is PaymentState.SUCCESSFUL
