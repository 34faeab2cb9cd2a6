"""Orange Money WebPay and Cameroon push, driven over real HTTP against the local sandbox."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace

import httpx
import pytest
import respx
from aiohttp.test_utils import TestServer

from gateway.core.providers import (
    CallbackRejected,
    Collection,
    CollectionNotFound,
    InboundCallback,
    PaymentError,
    PaymentState,
)
from gateway.kit.outbound_tls import verified_tls
from payments.orange import OrangePush, OrangeWebPay, PushCredentials, WebPayCredentials
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.payments import poll


@dataclass
class Orange:
    webpay: OrangeWebPay
    push: OrangePush
    control: SandboxControl
    base: str


@pytest.fixture
async def orange() -> AsyncIterator[Orange]:
    control = SandboxControl(success_delay=0.05, long_delay=0.2)
    async with TestServer(create_sandbox_app(control)) as sandbox, httpx.AsyncClient(verify=verified_tls()) as http:
        base = str(sandbox.make_url("/orange"))
        webpay = OrangeWebPay(http, WebPayCredentials(base, f"{base}/oauth/v3/token", "id", "secret", "merchant",
                                                      "dev"), "https://vote.example")
        push = OrangePush(http, PushCredentials(base, "key", "secret", "user", "pass", "699000000", "1234"),
                          "https://vote.example")
        yield Orange(webpay, push, control, base)


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
    assert set(result.provider_data) == {"attempt", "pages"} and result.redirect_url
    c = Collection(**{**c.__dict__, "provider_data": dict(result.provider_data)})
    assert (await orange.webpay.fetch_status(c)).state is PaymentState.PENDING
    async with httpx.AsyncClient(verify=verified_tls()) as payer:
        assert (await payer.get(result.redirect_url)).status_code == 200
        await payer.post(result.redirect_url, data={"decision": decision})
    assert await final_state(orange.webpay, c) is state


async def test_webpay_notification_is_checked_against_the_stored_token(orange: Orange) -> None:
    c = await started(orange.webpay, collection(None))
    [page] = c.provider_data["pages"]
    good = json.dumps({"status": "SUCCESS", "notif_token": page["notif_token"], "txnid": "MP1"}).encode()
    verdict = await orange.webpay.verify_callback(InboundCallback(c.order_id, {}, good), c)
    # The token is a per-payment secret: counted at once, verified by a status call later.
    assert verdict.kind == "notification.success" and verdict.verify_later
    assert verdict.status is not None and verdict.status.state is PaymentState.SUCCESSFUL
    assert (verdict.status.amount, verdict.status.currency) == (c.amount, c.currency)
    for body in (b'{"status": "SUCCESS", "notif_token": "forged"}', b"not json", b'{"status": "SUCCESS"}',
                 '{"status": "SUCCESS", "notif_token": "é"}'.encode(), b'{"notif_token": [1, 2]}'):
        with pytest.raises(CallbackRejected):
            await orange.webpay.verify_callback(InboundCallback(c.order_id, {}, body), c)
    with pytest.raises(CallbackRejected):
        await orange.webpay.verify_callback(InboundCallback(c.order_id, {}, good), None)


class Kept:
    """What `Collection.remember` commits during a start, merged as the core merges it for the next start."""

    def __init__(self) -> None:
        self.data: dict[str, object] = {}

    async def __call__(self, data: Mapping[str, object]) -> None:
        self.data.update(data)

    def collection(self, c: Collection) -> Collection:
        return replace(c, provider_data=dict(self.data), remember=self)


async def pay(page_url: str) -> None:
    async with httpx.AsyncClient(verify=verified_tls()) as payer:
        await payer.post(page_url, data={"decision": "pay"})


async def test_a_webpay_start_whose_answer_was_lost_is_retried_with_a_page_of_its_own(orange: Orange) -> None:
    """Orange opened the page but its answer never came: the retry must not reuse that order id (409)."""
    await started(orange.webpay, collection(None))  # Orange has answered us before: a token is at hand
    kept, c = Kept(), collection(None)
    orange.control.lose_answers = 1
    with pytest.raises(PaymentError) as lost:
        await orange.webpay.start(kept.collection(c))
    assert lost.value.retryable and kept.data == {"attempt": 1}  # kept before Orange was called
    retried = await orange.webpay.start(kept.collection(c))
    assert retried.redirect_url and retried.provider_data["attempt"] == 2
    assert [page["order_id"] for page in retried.provider_data["pages"]] == [f"{c.reference.hex}-2"]
    await pay(retried.redirect_url)
    assert await final_state(orange.webpay, replace(c, provider_data=retried.provider_data)) is PaymentState.SUCCESSFUL


@pytest.mark.parametrize("paid", ["first", "second"])
async def test_a_payment_on_either_page_of_an_order_is_found_by_its_status_check(orange: Orange, paid: str) -> None:
    """A start cut short after Orange answered (its page kept, never recorded) and the start after it:
    whichever page is paid, the order's status check finds it, and both pages' notifications are genuine."""
    kept, c = Kept(), collection(None)
    first = await orange.webpay.start(kept.collection(c))
    second = await orange.webpay.start(kept.collection(c))  # the retry after the crash
    assert second.provider_data == kept.data and len(kept.data["pages"]) == 2  # type: ignore[arg-type]
    final = replace(c, provider_data=second.provider_data)
    assert first.redirect_url and second.redirect_url
    await pay(first.redirect_url if paid == "first" else second.redirect_url)
    assert await final_state(orange.webpay, final) is PaymentState.SUCCESSFUL
    for page in second.provider_data["pages"]:
        body = json.dumps({"status": "SUCCESS", "notif_token": page["notif_token"]}).encode()
        verdict = await orange.webpay.verify_callback(InboundCallback(c.order_id, {}, body), final)
        assert verdict.kind == "notification.success" and verdict.verify_later  # counted, verified later


async def test_a_notification_an_order_cannot_check_yet_is_kept_unverified_not_rejected(orange: Orange) -> None:
    """No page known (the answer of its start was lost), or a later start's page unknown: the token may be
    Orange's all the same. Once every start's page is known, an unknown token is forged."""
    body = json.dumps({"status": "SUCCESS", "notif_token": "a token we never saw", "txnid": "MP1"}).encode()
    c = collection(None)
    for data in ({}, {"attempt": 1}):
        verdict = await orange.webpay.verify_callback(InboundCallback(c.order_id, {}, body),
                                                      replace(c, provider_data=data))
        assert verdict.kind == "notification.success.unverified" and verdict.status is None
    kept = Kept()
    await orange.webpay.start(kept.collection(c))
    await kept({"attempt": 2})  # the next start's answer was lost
    verdict = await orange.webpay.verify_callback(InboundCallback(c.order_id, {}, body), kept.collection(c))
    assert verdict.kind == "notification.success.unverified"
    kept.data["attempt"] = 1
    with pytest.raises(CallbackRejected):
        await orange.webpay.verify_callback(InboundCallback(c.order_id, {}, body), kept.collection(c))


async def test_an_order_started_before_pages_were_kept_is_still_checked_under_its_reference(orange: Orange) -> None:
    c = collection(None)
    async with httpx.AsyncClient(base_url=orange.base) as http:
        token = (await http.post("/oauth/v3/token", auth=("id", "secret"),
                                 data={"grant_type": "client_credentials"})).json()["access_token"]
        body = {"merchant_key": "merchant", "currency": "OUV", "order_id": str(c.reference), "amount": 500.0,
                "return_url": "https://vote.example/r", "cancel_url": "https://vote.example/c",
                "notif_url": "https://vote.example/n", "lang": "fr"}
        opened = (await http.post("/orange-money-webpay/dev/v1/webpayment", json=body,
                                  headers={"Authorization": f"Bearer {token}"})).json()
    legacy = replace(c, provider_data={"pay_token": opened["pay_token"], "notif_token": opened["notif_token"]})
    await pay(opened["payment_url"])
    assert await final_state(orange.webpay, legacy) is PaymentState.SUCCESSFUL
    good = json.dumps({"status": "SUCCESS", "notif_token": opened["notif_token"]}).encode()
    assert (await orange.webpay.verify_callback(InboundCallback(c.order_id, {}, good), legacy)).verify_later
    with pytest.raises(CallbackRejected):
        await orange.webpay.verify_callback(InboundCallback(c.order_id, {}, b'{"notif_token": "x"}'), legacy)


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
    async with httpx.AsyncClient(verify=verified_tls()) as http:
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
    async with httpx.AsyncClient(verify=verified_tls()) as http:
        push = OrangePush(http, PushCredentials(base, "key", "secret", "user", "pass", "699000000", "1234"),
                          "https://vote.example")
        paid = await push.fetch_status(collection(pay_token="MP-1"))
        status_route.respond(200, json={"data": {**record, "status": "FAILED"}})
        failed = await push.fetch_status(collection(pay_token="MP-1"))
    assert (paid.state, paid.amount, paid.provider_txn_id) == (PaymentState.SUCCESSFUL, 500, "1234567")
    assert failed.state is PaymentState.FAILED and failed.reason == "0"
