"""MTN MoMo Collection, faked at the wire with respx: what MTN receives, and how we read it back."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import respx

from gateway.core.providers import (
    Collection,
    CollectionNotFound,
    InboundCallback,
    PaymentError,
    PaymentState,
    ProviderRateLimited,
)
from gateway.kit.outbound_tls import verified_tls
from payments.mtn import MtnMomoCollection
from payments.mtn.api import MtnCredentials
from tests.payments.ussd_orders import ussd_collection

BASE = "https://momo.test"
CREDS = MtnCredentials(BASE, "sub-key", "api-user", "api-key", "mtncameroon")
TOKEN = {"access_token": "tok-1", "token_type": "access_token", "expires_in": 3600}


def collection(**changes: object) -> Collection:
    return ussd_collection(changes, amount=500, currency="XAF", msisdn="+237670000001")


@pytest.fixture
async def mtn() -> MtnMomoCollection:
    async with httpx.AsyncClient(verify=verified_tls()) as http:
        yield MtnMomoCollection(http, CREDS, "https://vote.example", retry_delays=(0.01, 0.01))


@respx.mock
async def test_request_to_pay_sends_mtn_shape_with_our_reference(mtn: MtnMomoCollection) -> None:
    token = respx.post(f"{BASE}/collection/token/").respond(200, json=TOKEN)
    pay = respx.post(f"{BASE}/collection/v1_0/requesttopay").respond(202)
    c = collection(description="5 votes for Grace & 'Co'")
    await mtn.start(c)
    await mtn.start(collection())
    assert token.call_count == 1  # cached
    sent = pay.calls[0].request
    assert sent.headers["X-Reference-Id"] == str(c.reference)
    assert sent.headers["X-Callback-Url"] == f"https://vote.example/payments/mtn/callback/{c.order_id}"
    assert sent.headers["X-Target-Environment"] == "mtncameroon"
    assert sent.headers["Ocp-Apim-Subscription-Key"] == "sub-key"
    assert sent.headers["Authorization"] == "Bearer tok-1"
    body = json.loads(sent.content)
    assert body["amount"] == "500" and body["currency"] == "XAF"
    assert body["payer"] == {"partyIdType": "MSISDN", "partyId": "237670000001"}
    assert "&" not in body["payerMessage"] and "'" not in body["payerMessage"]
    assert token.calls[0].request.headers["Authorization"].startswith("Basic ")


@respx.mock
async def test_timeout_then_retry_uses_the_same_reference_and_409_means_submitted(mtn: MtnMomoCollection) -> None:
    respx.post(f"{BASE}/collection/token/").respond(200, json=TOKEN)
    pay = respx.post(f"{BASE}/collection/v1_0/requesttopay").mock(side_effect=[
        httpx.ReadTimeout("slow"),
        httpx.Response(409, json={"code": "RESOURCE_ALREADY_EXIST", "message": "Duplicated reference id."}),
    ])
    c = collection()
    result = await mtn.start(c)
    assert result.provider_data == {"reference": str(c.reference)}
    assert [call.request.headers["X-Reference-Id"] for call in pay.calls] == [str(c.reference)] * 2


@respx.mock
async def test_a_rate_limited_status_call_is_left_for_a_later_turn_and_a_rate_limited_prompt_is_resent(
        mtn: MtnMomoCollection) -> None:
    respx.post(f"{BASE}/collection/token/").respond(200, json=TOKEN)
    c = collection()
    too_many = httpx.Response(429, json={"statusCode": 429, "message": "Rate limit is exceeded. Try again soon."})
    status = respx.get(f"{BASE}/collection/v1_0/requesttopay/{c.reference}").mock(return_value=too_many)
    with pytest.raises(ProviderRateLimited) as caught:
        await mtn.fetch_status(c)
    assert caught.value.retryable and status.call_count == 1  # not resent into the window MTN refused
    pay = respx.post(f"{BASE}/collection/v1_0/requesttopay").mock(side_effect=[too_many, httpx.Response(202)])
    await mtn.start(c)  # the same X-Reference-Id again: MTN never saw the first
    assert [call.request.headers["X-Reference-Id"] for call in pay.calls] == [str(c.reference)] * 2
    assert mtn.status_calls_per_second == 10  # MTN's published cap, paced across processes by the core


@respx.mock
async def test_5xx_burst_is_retried_then_reported_retryable(mtn: MtnMomoCollection) -> None:
    respx.post(f"{BASE}/collection/token/").respond(200, json=TOKEN)
    pay = respx.post(f"{BASE}/collection/v1_0/requesttopay").respond(
        503, json={"code": "SERVICE_UNAVAILABLE", "message": "down"})
    with pytest.raises(PaymentError) as caught:
        await mtn.start(collection())
    assert caught.value.retryable and caught.value.code == "SERVICE_UNAVAILABLE"
    assert pay.call_count == 3


@respx.mock
async def test_bad_request_is_not_retried(mtn: MtnMomoCollection) -> None:
    respx.post(f"{BASE}/collection/token/").respond(200, json=TOKEN)
    pay = respx.post(f"{BASE}/collection/v1_0/requesttopay").respond(
        400, json={"code": "PAYER_NOT_FOUND", "message": "Payer not found"})
    with pytest.raises(PaymentError) as caught:
        await mtn.start(collection())
    assert not caught.value.retryable and caught.value.message == "Payer not found"
    assert pay.call_count == 1


@respx.mock
async def test_token_is_refreshed_once_on_401(mtn: MtnMomoCollection) -> None:
    token = respx.post(f"{BASE}/collection/token/").mock(side_effect=[
        httpx.Response(200, json=TOKEN), httpx.Response(200, json={**TOKEN, "access_token": "tok-2"})])
    pay = respx.post(f"{BASE}/collection/v1_0/requesttopay").mock(side_effect=[
        httpx.Response(401, json={"code": "401", "message": "expired"}), httpx.Response(202)])
    await mtn.start(collection())
    assert token.call_count == 2
    assert pay.calls[1].request.headers["Authorization"] == "Bearer tok-2"


@respx.mock
async def test_bad_credentials_are_a_clear_error(mtn: MtnMomoCollection) -> None:
    respx.post(f"{BASE}/collection/token/").respond(500, json={"error": "login_failed"})
    with pytest.raises(PaymentError) as caught:
        await mtn.start(collection())
    assert caught.value.code == "login_failed" and not caught.value.retryable


@respx.mock
async def test_concurrent_calls_share_one_token_request(mtn: MtnMomoCollection) -> None:
    token = respx.post(f"{BASE}/collection/token/").respond(200, json=TOKEN)
    respx.post(f"{BASE}/collection/v1_0/requesttopay").respond(202)
    await asyncio.gather(*(mtn.start(collection()) for _ in range(20)))
    assert token.call_count == 1


@pytest.mark.parametrize(
    ("body", "state", "amount", "reason"),
    [
        ({"status": "SUCCESSFUL", "amount": "500", "currency": "XAF", "financialTransactionId": "123"},
         PaymentState.SUCCESSFUL, 500, None),
        ({"status": "FAILED", "amount": "500", "currency": "XAF", "reason": "APPROVAL_REJECTED"},
         PaymentState.FAILED, 500, "APPROVAL_REJECTED"),
        ({"status": "FAILED", "amount": "500", "currency": "XAF",
          "reason": {"code": "PAYER_NOT_FOUND", "message": "x"}}, PaymentState.FAILED, 500, "PAYER_NOT_FOUND"),
        ({"status": "PENDING", "amount": "500", "currency": "XAF"}, PaymentState.PENDING, 500, None),
        ({"status": "SUCCESSFUL", "amount": "5.5", "currency": "XAF"}, PaymentState.SUCCESSFUL, None, None),
    ],
)
@respx.mock
async def test_status_is_read_into_our_states(mtn: MtnMomoCollection, body: dict[str, object],
                                              state: PaymentState, amount: int | None, reason: str | None) -> None:
    respx.post(f"{BASE}/collection/token/").respond(200, json=TOKEN)
    c = collection()
    respx.get(f"{BASE}/collection/v1_0/requesttopay/{c.reference}").respond(200, json=body)
    result = await mtn.fetch_status(c)
    assert (result.state, result.amount, result.reason) == (state, amount, reason)


@respx.mock
async def test_unknown_reference_is_collection_not_found(mtn: MtnMomoCollection) -> None:
    respx.post(f"{BASE}/collection/token/").respond(200, json=TOKEN)
    c = collection()
    respx.get(f"{BASE}/collection/v1_0/requesttopay/{c.reference}").respond(
        404, json={"code": "RESOURCE_NOT_FOUND", "message": "not found"})
    with pytest.raises(CollectionNotFound):
        await mtn.fetch_status(c)


async def test_a_callback_is_never_proof(mtn: MtnMomoCollection) -> None:
    c = collection()
    body = json.dumps({"status": "SUCCESSFUL", "amount": "500", "currency": "XAF"}).encode()
    verdict = await mtn.verify_callback(InboundCallback(c.order_id, {}, body), c)
    assert verdict.status is None and verdict.order_id == c.order_id and verdict.kind == "callback.successful"
    garbage = await mtn.verify_callback(InboundCallback(c.order_id, {}, b"\xff{"), c)
    assert garbage.status is None and garbage.kind == "callback.unparseable"


@pytest.mark.parametrize("answer", [
    httpx.Response(200, text="<html><body>Gateway welcome page</body></html>"),
    httpx.Response(200, json=["SUCCESSFUL"]),
    httpx.Response(200, text="[" * 100_000),
    httpx.Response(200, text='{"status": "SUCCESSFUL", "amount": "50'),
])
@respx.mock
async def test_a_status_answer_nobody_can_read_is_an_outage_not_a_verdict(mtn: MtnMomoCollection,
                                                                         answer: httpx.Response) -> None:
    respx.post(f"{BASE}/collection/token/").respond(200, json=TOKEN)
    c = collection()
    respx.get(f"{BASE}/collection/v1_0/requesttopay/{c.reference}").mock(return_value=answer)
    with pytest.raises(PaymentError) as raised:
        await mtn.fetch_status(c)
    assert raised.value.code == "unreadable_answer" and raised.value.retryable


@pytest.mark.parametrize("token", [httpx.Response(200, text="<html>maintenance</html>"),
                                   httpx.Response(200, json={"token_type": "access_token"})])
@respx.mock
async def test_a_token_answer_without_a_token_is_retried_later(mtn: MtnMomoCollection, token: httpx.Response) -> None:
    respx.post(f"{BASE}/collection/token/").mock(return_value=token)
    with pytest.raises(PaymentError) as raised:
        await mtn.fetch_status(collection())
    assert raised.value.code == "unreadable_answer" and raised.value.retryable
