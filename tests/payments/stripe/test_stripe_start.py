"""The Stripe Checkout provider's start, with Stripe faked at the wire (respx): one Checkout line for the whole
order; retries under the same idempotency key, even in the next expiry window; which refusals and failures may be
retried."""

from __future__ import annotations

import httpx
import pytest
import respx

from gateway.core.providers import PaymentError
from payments.stripe import StripeCheckout
from tests.payments.stripe.stripe_checkout import (
    API,
    ORDER_ID,
    REFERENCE,
    SECRET_KEY,
    SESSION_URL,
    WEBHOOK_SECRET,
    Clock,
    collection,
    form,
    session,
    stripe_error,
)


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
