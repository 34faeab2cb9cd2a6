"""Orange Money WebPay and Cameroon push, driven over real HTTP against the local sandbox."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import httpx
import pytest
import respx
from aiohttp.test_utils import TestServer

from payments.base import (
    CallbackRejected,
    Collection,
    CollectionNotFound,
    InboundCallback,
    PaymentError,
    PaymentState,
)
from payments.orange import OrangePush, OrangeWebPay, PushCredentials, WebPayCredentials
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.payments import poll


@dataclass
class Orange:
    webpay: OrangeWebPay
    push: OrangePush
    control: SandboxControl


@pytest.fixture
async def orange() -> AsyncIterator[Orange]:
    control = SandboxControl(success_delay=0.05, long_delay=0.2)
    async with TestServer(create_sandbox_app(control)) as sandbox, httpx.AsyncClient() as http:
        base = str(sandbox.make_url("/orange"))
        webpay = OrangeWebPay(http, WebPayCredentials(base, f"{base}/oauth/v3/token", "id", "secret", "merchant",
                                                      "dev"), "https://vote.example")
        push = OrangePush(http, PushCredentials(base, "key", "secret", "user", "pass", "699000000", "1234"),
                          "https://vote.example")
        yield Orange(webpay, push, control)


def collection(msisdn: str | None = "+237690000001", **data: object) -> Collection:
    return Collection(order_id=uuid.uuid4(), reference=uuid.uuid4(), amount=500, currency="XAF", msisdn=msisdn,
                      description="5 votes for Grace Ndongo - Demo Star 2026", channel="ussd", provider_data=data)


async def started(provider: OrangeWebPay | OrangePush, c: Collection) -> Collection:
    result = await provider.start(c)
    return Collection(**{**c.__dict__, "provider_data": dict(result.provider_data)})


async def final_state(provider: OrangeWebPay | OrangePush, c: Collection) -> PaymentState:
    result = await poll(lambda: provider.fetch_status(c), lambda r: r.state is not PaymentState.PENDING)
    return result.state


@pytest.mark.parametrize(("msisdn", "state"), [
    ("+237690000001", PaymentState.SUCCESSFUL), ("+237690000450", PaymentState.FAILED),
    ("+237690000451", PaymentState.FAILED), ("+237690000452", PaymentState.EXPIRED),
    ("+237690000455", PaymentState.FAILED), ("+237690000454", PaymentState.SUCCESSFUL)])
async def test_push_outcomes(orange: Orange, msisdn: str, state: PaymentState) -> None:
    c = await started(orange.push, collection(msisdn))
    assert await final_state(orange.push, c) is state
    result = await orange.push.fetch_status(c)
    if state is PaymentState.SUCCESSFUL:
        assert (result.amount, result.currency, result.raw_status) == (500, "XAF", "SUCCESSFULL")
        assert result.provider_txn_id
    else:
        assert result.reason  # Orange's French message, shown to support


async def test_push_refuses_a_number_outside_cameroon(orange: Orange) -> None:
    with pytest.raises(PaymentError) as caught:
        await orange.push.start(collection("+2250700000001"))
    assert caught.value.code == "unsupported_number" and not caught.value.retryable


async def test_push_survives_a_5xx_burst_by_reporting_it_retryable_then_working(orange: Orange) -> None:
    orange.control.fail_next = 1
    with pytest.raises(PaymentError) as caught:
        await orange.push.start(collection())
    assert caught.value.retryable
    c = await started(orange.push, collection())  # the job's retry
    assert await final_state(orange.push, c) is PaymentState.SUCCESSFUL


class CutShort(Exception):
    """The process dies right after the payToken was kept."""


async def test_a_push_cut_short_after_init_is_resumed_with_the_kept_token(orange: Orange) -> None:
    kept: dict[str, object] = {}

    async def keep_then_die(data: object) -> None:
        kept.update(data)  # type: ignore[call-overload]
        raise CutShort

    with pytest.raises(CutShort):
        await orange.push.start(replace(collection(), remember=keep_then_die))
    resumed = collection(**kept)
    with pytest.raises(CollectionNotFound):  # init alone sent nothing to the phone
        await orange.push.fetch_status(resumed)
    result = await orange.push.start(resumed)
    assert result.provider_data == kept  # paid with the kept token, no new init
    assert await final_state(orange.push, resumed) is PaymentState.SUCCESSFUL


async def test_a_resumed_push_that_cannot_learn_its_tokens_fate_is_retried_not_failed(orange: Orange) -> None:
    first = await started(orange.push, collection())  # the prompt is on the payer's phone
    orange.control.reject_credentials = True  # Orange refuses us for a while: no status to be had
    orange.control.expire_tokens()
    with pytest.raises(PaymentError) as caught:
        await orange.push.start(first)
    assert caught.value.retryable  # failing the order now would drop a payment the payer may approve


async def test_a_push_restarted_after_the_prompt_went_out_does_not_push_again(orange: Orange) -> None:
    first = await started(orange.push, collection())
    again = await orange.push.start(first)  # Orange would refuse a second `pay` on the same token
    assert again.provider_data == first.provider_data
    assert await final_state(orange.push, first) is PaymentState.SUCCESSFUL


async def test_push_status_of_an_unknown_pay_token_is_not_found(orange: Orange) -> None:
    with pytest.raises(CollectionNotFound):
        await orange.push.fetch_status(collection(pay_token="MP000000UNKNOWN"))
    with pytest.raises(CollectionNotFound):
        await orange.push.fetch_status(collection())


async def test_push_tokens_are_refreshed_after_expiry(orange: Orange) -> None:
    await orange.push.start(collection())
    orange.control.expire_tokens()
    c = await started(orange.push, collection())
    assert await final_state(orange.push, c) is PaymentState.SUCCESSFUL


@pytest.mark.parametrize(("decision", "state"), [("pay", PaymentState.SUCCESSFUL), ("cancel", PaymentState.FAILED)])
async def test_webpay_gives_a_page_and_status_follows_the_payer(orange: Orange, decision: str,
                                                              state: PaymentState) -> None:
    c = collection(None)
    result = await orange.webpay.start(c)
    assert set(result.provider_data) == {"pay_token", "notif_token"} and result.redirect_url
    c = Collection(**{**c.__dict__, "provider_data": dict(result.provider_data)})
    assert (await orange.webpay.fetch_status(c)).state is PaymentState.PENDING
    async with httpx.AsyncClient() as payer:
        assert (await payer.get(result.redirect_url)).status_code == 200
        await payer.post(result.redirect_url, data={"decision": decision})
    assert await final_state(orange.webpay, c) is state


async def test_webpay_notification_is_checked_against_the_stored_token(orange: Orange) -> None:
    c = await started(orange.webpay, collection(None))
    good = json.dumps({"status": "SUCCESS", "notif_token": c.provider_data["notif_token"], "txnid": "MP1"}).encode()
    verdict = await orange.webpay.verify_callback(InboundCallback(c.order_id, {}, good), c)
    assert verdict.status is None and verdict.kind == "notification.success"  # still confirmed by a status call
    for body in (b'{"status": "SUCCESS", "notif_token": "forged"}', b"not json", b'{"status": "SUCCESS"}',
                 '{"status": "SUCCESS", "notif_token": "é"}'.encode(), b'{"notif_token": [1, 2]}'):
        with pytest.raises(CallbackRejected):
            await orange.webpay.verify_callback(InboundCallback(c.order_id, {}, body), c)
    with pytest.raises(CallbackRejected):
        await orange.webpay.verify_callback(InboundCallback(c.order_id, {}, good), None)


async def test_webpay_5xx_at_start_is_retryable(orange: Orange) -> None:
    orange.control.fail_next = 2
    with pytest.raises(PaymentError) as caught:
        await orange.webpay.start(collection(None))
    assert caught.value.retryable


async def test_webpay_auto_success_is_reported_with_the_order_amount(orange: Orange) -> None:
    orange.control.webpay_auto_outcome = "SUCCESS"
    c = await started(orange.webpay, collection(None))
    assert await final_state(orange.webpay, c) is PaymentState.SUCCESSFUL
    result = await orange.webpay.fetch_status(c)
    assert (result.amount, result.currency, result.provider_txn_id is not None) == (500, "XAF", True)


@pytest.mark.parametrize("answer", [{"payment_url": "https://pay.test/1"}, {"pay_token": "t", "notif_token": "n"},
                                    {"payment_url": None, "pay_token": "t", "notif_token": "n"}])
@respx.mock
async def test_a_webpay_answer_without_its_page_or_tokens_is_retried_not_a_crash(answer: dict[str, object]) -> None:
    base = "https://orange.test"
    respx.post(f"{base}/oauth/v3/token").respond(200, json={"access_token": "t", "expires_in": "7776000"})
    respx.post(f"{base}/orange-money-webpay/dev/v1/webpayment").respond(201, json=answer)
    async with httpx.AsyncClient() as http:
        webpay = OrangeWebPay(http, WebPayCredentials(base, f"{base}/oauth/v3/token", "id", "secret", "merchant",
                                                      "dev"), "https://vote.example")
        with pytest.raises(PaymentError) as raised:
            await webpay.start(collection(None))
    assert raised.value.code == "unreadable_answer" and raised.value.retryable


@respx.mock
async def test_push_status_fields_sent_as_numbers_are_read_as_text() -> None:
    """Orange's txnid is a string in its documentation and sometimes a number on the wire."""
    base = "https://orange.test"
    respx.post(f"{base}/token").respond(200, json={"access_token": "t", "expires_in": 3600})
    record = {"status": "SUCCESSFULL", "amount": 500, "txnid": 1234567, "inittxnstatus": "200",
              "confirmtxnmessage": 0}
    status_route = respx.get(url__regex=rf"{base}/omcoreapis/1.0.2/mp/paymentstatus/.+")
    status_route.respond(200, json={"data": record})
    async with httpx.AsyncClient() as http:
        push = OrangePush(http, PushCredentials(base, "key", "secret", "user", "pass", "699000000", "1234"),
                          "https://vote.example")
        paid = await push.fetch_status(collection(pay_token="MP-1"))
        status_route.respond(200, json={"data": {**record, "status": "FAILED"}})
        failed = await push.fetch_status(collection(pay_token="MP-1"))
    assert (paid.state, paid.amount, paid.provider_txn_id) == (PaymentState.SUCCESSFUL, 500, "1234567")
    assert failed.state is PaymentState.FAILED and failed.reason == "0"
