"""Stripe Checkout provider, with Stripe faked at the wire (respx) and webhooks signed with a real HMAC."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from gateway.core.providers import (
    CallbackRejected,
    Collection,
    CollectionNotFound,
    InboundCallback,
    PaymentError,
    PaymentState,
)
from payments.stripe import StripeCheckout

API = "https://stripe.test"
SECRET_KEY = "sk_test_ballot"
WEBHOOK_SECRET = "whsec_ballot_test"
ORDER_ID = uuid.UUID("0b5f1c8e-6a51-4c5e-9a43-3f1d2b7c9e01")
REFERENCE = uuid.UUID("9d0e8f7a-1b2c-4d3e-8f5a-6b7c8d9e0f12")
WINDOW_START = 1_750_000_500  # a multiple of 900: the start of a 15-minute expiry window
SESSION_URL = "https://checkout.stripe.com/c/pay/cs_test_1"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(WINDOW_START + 60)


@pytest.fixture
async def provider(clock: Clock) -> AsyncIterator[StripeCheckout]:
    provider = StripeCheckout(SECRET_KEY, WEBHOOK_SECRET, "https://vote.example/", api_base=API,
                              max_network_retries=0, clock=clock)
    yield provider
    await provider.aclose()


@pytest.fixture
def stripe_api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


def collection(**changes: Any) -> Collection:
    base = Collection(order_id=ORDER_ID, reference=REFERENCE, amount=500, currency="XAF", msisdn=None,
                      description="5 votes for Amina - Miss Cameroun 2025", channel="web",
                      provider_data={"session_id": "cs_test_1"})
    return dataclasses.replace(base, **changes)


def session(**fields: Any) -> dict[str, Any]:
    return {"id": "cs_test_1", "object": "checkout.session", "url": SESSION_URL, "status": "open",
            "payment_status": "unpaid", "amount_total": 500, "currency": "xaf", "payment_intent": None,
            "client_reference_id": str(ORDER_ID),
            "metadata": {"order_id": str(ORDER_ID), "reference": str(REFERENCE)}, **fields}


def stripe_error(status: int, message: str, *, code: str | None = None,
                 kind: str = "invalid_request_error") -> httpx.Response:
    error: dict[str, Any] = {"type": kind, "message": message}
    if code:
        error["code"] = code
    return httpx.Response(status, json={"error": error})


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


# start


async def test_start_creates_one_checkout_line_for_the_whole_order(
        provider: StripeCheckout, stripe_api: respx.MockRouter, clock: Clock) -> None:
    route = stripe_api.post("/v1/checkout/sessions").respond(200, json=session())

    result = await provider.start(collection())

    assert provider.redirects and result.redirect_url == SESSION_URL
    assert result.provider_data == {"session_id": "cs_test_1"}
    request = route.calls.last.request
    assert request.headers["Idempotency-Key"] == f"checkout-{REFERENCE}"
    assert request.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    sent = form(request)
    assert sent["mode"] == "payment"
    assert sent["line_items[0][price_data][currency]"] == "xaf"
    assert sent["line_items[0][price_data][unit_amount]"] == "500"  # zero-decimal: 500 francs, not 5
    assert sent["line_items[0][quantity]"] == "1"
    assert sent["line_items[0][price_data][product_data][name]"] == "5 votes for Amina - Miss Cameroun 2025"
    assert sent["client_reference_id"] == str(ORDER_ID)
    assert sent["metadata[order_id]"] == sent["payment_intent_data[metadata][order_id]"] == str(ORDER_ID)
    assert sent["metadata[reference]"] == sent["payment_intent_data[metadata][reference]"] == str(REFERENCE)
    assert sent["success_url"] == f"https://vote.example/orders/{ORDER_ID}?from=stripe"
    assert sent["cancel_url"] == f"https://vote.example/orders/{ORDER_ID}?cancelled=1"
    assert 30 * 60 < int(sent["expires_at"]) - clock.now <= 50 * 60


async def test_a_retry_sends_the_same_request_under_the_same_key(
        provider: StripeCheckout, stripe_api: respx.MockRouter, clock: Clock) -> None:
    route = stripe_api.post("/v1/checkout/sessions").respond(200, json=session())

    first = await provider.start(collection())
    clock.now += 10 * 60
    again = await provider.start(collection())

    assert again == first
    one, two = (call.request for call in route.calls)
    assert one.headers["Idempotency-Key"] == two.headers["Idempotency-Key"] == f"checkout-{REFERENCE}"
    assert one.content == two.content  # Stripe replays a key only for identical parameters


async def test_a_retry_in_the_next_expiry_window_still_gets_the_first_session(
        provider: StripeCheckout, stripe_api: respx.MockRouter, clock: Clock) -> None:
    first_params: list[bytes] = []

    def like_stripe(request: httpx.Request) -> httpx.Response:
        """Stripe replays a used key only for the parameters it was first used with."""
        if not first_params:
            first_params.append(request.content)
        if request.content != first_params[0]:
            return stripe_error(400, "Keys for idempotent requests can only be used with the same parameters "
                                     "they were first used with.", kind="idempotency_error")
        return httpx.Response(200, json=session())

    route = stripe_api.post("/v1/checkout/sessions").mock(side_effect=like_stripe)

    await provider.start(collection())
    clock.now += 15 * 60
    again = await provider.start(collection())

    assert again.redirect_url == SESSION_URL
    assert {call.request.headers["Idempotency-Key"] for call in route.calls} == {f"checkout-{REFERENCE}"}


async def test_a_changed_order_under_a_used_key_is_refused_for_good(
        provider: StripeCheckout, stripe_api: respx.MockRouter) -> None:
    stripe_api.post("/v1/checkout/sessions").mock(return_value=stripe_error(
        400, "Keys for idempotent requests can only be used with the same parameters.", kind="idempotency_error"))

    with pytest.raises(PaymentError) as caught:
        await provider.start(collection())

    assert caught.value.code == "idempotency_error" and not caught.value.retryable


async def test_sdk_retry_after_a_5xx_reuses_our_key(clock: Clock, stripe_api: respx.MockRouter) -> None:
    provider = StripeCheckout(SECRET_KEY, WEBHOOK_SECRET, "https://vote.example", api_base=API,
                              max_network_retries=1, clock=clock)
    route = stripe_api.post("/v1/checkout/sessions").mock(
        side_effect=[stripe_error(500, "boom", kind="api_error"), httpx.Response(200, json=session())])
    try:
        result = await provider.start(collection())
    finally:
        await provider.aclose()

    assert result.redirect_url == SESSION_URL
    assert [call.request.headers["Idempotency-Key"] for call in route.calls] == [f"checkout-{REFERENCE}"] * 2


async def test_amount_too_small_tells_the_voter_what_to_do(
        provider: StripeCheckout, stripe_api: respx.MockRouter) -> None:
    stripe_api.post("/v1/checkout/sessions").mock(return_value=stripe_error(
        400, "The Checkout Session's total amount due must add up to at least $0.50 usd", code="amount_too_small"))

    with pytest.raises(PaymentError) as caught:
        await provider.start(collection(amount=100))

    error = caught.value
    assert (error.provider, error.code, error.retryable, error.status) == ("stripe", "amount_too_small", False, 400)
    assert error.message == "Card payments need a larger amount: choose more votes."


@pytest.mark.parametrize(("status", "code", "kind", "expected_code"), [
    (400, "parameter_invalid_integer", "invalid_request_error", "parameter_invalid_integer"),
    (401, None, "invalid_request_error", "invalid_request_error"),
    (403, None, "invalid_request_error", "invalid_request_error"),
])
async def test_other_refusals_are_not_retryable(provider: StripeCheckout, stripe_api: respx.MockRouter,
                                                status: int, code: str | None, kind: str,
                                                expected_code: str) -> None:
    stripe_api.post("/v1/checkout/sessions").mock(return_value=stripe_error(status, "Stripe says no", code=code,
                                                                            kind=kind))

    with pytest.raises(PaymentError) as caught:
        await provider.start(collection())

    error = caught.value
    assert (error.code, error.message, error.retryable, error.status) == (expected_code, "Stripe says no", False,
                                                                          status)


@pytest.mark.parametrize("status", [409, 429, 500, 503])
async def test_busy_or_broken_stripe_is_retryable(provider: StripeCheckout, stripe_api: respx.MockRouter,
                                                  status: int) -> None:
    stripe_api.post("/v1/checkout/sessions").mock(return_value=stripe_error(status, "try later", kind="api_error"))

    with pytest.raises(PaymentError) as caught:
        await provider.start(collection())

    assert caught.value.retryable and caught.value.status == status


@pytest.mark.parametrize("failure", [httpx.ConnectTimeout("slow"), httpx.ConnectError("refused"),
                                     httpx.ReadTimeout("slow")])
async def test_network_failures_are_retryable(provider: StripeCheckout, stripe_api: respx.MockRouter,
                                              failure: Exception) -> None:
    stripe_api.post("/v1/checkout/sessions").mock(side_effect=failure)

    with pytest.raises(PaymentError) as caught:
        await provider.start(collection())

    assert (caught.value.code, caught.value.retryable, caught.value.status) == ("connection_error", True, None)


# fetch_status


@pytest.mark.parametrize(("status", "payment_status", "state"), [
    ("open", "unpaid", PaymentState.PENDING),
    ("complete", "unpaid", PaymentState.PENDING),  # an async payment method still processing
    ("expired", "unpaid", PaymentState.EXPIRED),
])
async def test_fetch_status_of_an_unpaid_session(provider: StripeCheckout, stripe_api: respx.MockRouter,
                                                 status: str, payment_status: str, state: PaymentState) -> None:
    stripe_api.get("/v1/checkout/sessions/cs_test_1").respond(
        200, json=session(status=status, payment_status=payment_status))

    result = await provider.fetch_status(collection())

    assert result.state is state and result.provider_txn_id is None


async def test_fetch_status_of_a_paid_session(provider: StripeCheckout, stripe_api: respx.MockRouter) -> None:
    stripe_api.get("/v1/checkout/sessions/cs_test_1").respond(
        200, json=session(status="complete", payment_status="paid", payment_intent="pi_1"))

    result = await provider.fetch_status(collection())

    assert (result.state, result.amount, result.currency, result.provider_txn_id) == (
        PaymentState.SUCCESSFUL, 500, "XAF", "pi_1")


@pytest.mark.parametrize(("amount_refunded", "raw"), [(500, "refunded"), (200, "partially_refunded")])
async def test_fetch_status_of_a_paid_session_whose_charge_was_refunded(
        provider: StripeCheckout, stripe_api: respx.MockRouter, amount_refunded: int, raw: str) -> None:
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_1", "amount": 500, "currency": "xaf",
              "amount_refunded": amount_refunded, "refunded": amount_refunded == 500}
    route = stripe_api.get("/v1/checkout/sessions/cs_test_1").respond(200, json=session(
        status="complete", payment_status="paid",
        payment_intent={"id": "pi_1", "object": "payment_intent", "latest_charge": charge}))

    result = await provider.fetch_status(collection())

    assert route.calls[0].request.url.params["expand[0]"] == "payment_intent.latest_charge"
    assert (result.state, result.amount, result.currency, result.provider_txn_id, result.raw_status) == (
        PaymentState.REFUNDED, amount_refunded, "XAF", "pi_1", raw)


async def test_fetch_status_without_a_session_is_not_found(provider: StripeCheckout,
                                                           stripe_api: respx.MockRouter) -> None:
    with pytest.raises(CollectionNotFound):
        await provider.fetch_status(collection(provider_data={}))
    assert not stripe_api.calls


async def test_fetch_status_of_an_unknown_session_is_not_found(provider: StripeCheckout,
                                                               stripe_api: respx.MockRouter) -> None:
    stripe_api.get("/v1/checkout/sessions/cs_test_1").mock(return_value=stripe_error(
        404, "No such checkout.session: 'cs_test_1'", code="resource_missing"))

    with pytest.raises(CollectionNotFound) as caught:
        await provider.fetch_status(collection())

    assert caught.value.status == 404


async def test_fetch_status_when_stripe_is_down_is_retryable(provider: StripeCheckout,
                                                             stripe_api: respx.MockRouter) -> None:
    stripe_api.get("/v1/checkout/sessions/cs_test_1").mock(return_value=stripe_error(502, "bad gateway",
                                                                                     kind="api_error"))

    with pytest.raises(PaymentError) as caught:
        await provider.fetch_status(collection())

    assert caught.value.retryable and not isinstance(caught.value, CollectionNotFound)


# webhooks


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


# refund


@pytest.mark.parametrize(("status", "state"), [
    ("succeeded", PaymentState.REFUNDED), ("pending", PaymentState.PENDING), ("failed", PaymentState.FAILED),
])
async def test_refund(provider: StripeCheckout, stripe_api: respx.MockRouter, status: str,
                      state: PaymentState) -> None:
    route = stripe_api.post("/v1/refunds").respond(200, json={
        "id": "re_1", "object": "refund", "amount": 500, "currency": "xaf", "payment_intent": "pi_1",
        "status": status})

    result = await provider.refund(collection(provider_data={"session_id": "cs_test_1", "payment_intent": "pi_1"}))

    assert (result.state, result.amount, result.currency, result.provider_txn_id) == (state, 500, "XAF", "pi_1")
    request = route.calls.last.request
    assert request.headers["Idempotency-Key"] == f"refund-{REFERENCE}"
    assert form(request)["payment_intent"] == "pi_1"


async def test_refund_of_an_already_refunded_payment(provider: StripeCheckout, stripe_api: respx.MockRouter) -> None:
    stripe_api.post("/v1/refunds").mock(return_value=stripe_error(
        400, "Charge ch_1 has already been refunded.", code="charge_already_refunded"))

    result = await provider.refund(collection(provider_data={"payment_intent": "pi_1"}))

    assert result.state is PaymentState.REFUNDED


async def test_refund_without_a_payment(provider: StripeCheckout, stripe_api: respx.MockRouter) -> None:
    with pytest.raises(PaymentError) as caught:
        await provider.refund(collection())

    assert caught.value.code == "not_paid" and not stripe_api.calls
