"""The Stripe Checkout provider's status checks and refunds, with Stripe faked at the wire (respx): an unpaid,
paid or refunded session, none or an unknown one, Stripe down; a refund, one already made, one with no payment."""

from __future__ import annotations

import pytest
import respx

from gateway.core.providers import CollectionNotFound, PaymentError, PaymentState
from payments.stripe import StripeCheckout
from tests.payments.stripe.stripe_checkout import REFERENCE, collection, form, session, stripe_error

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
