"""The Orange Money sandbox's WebPay over real HTTP, driven with httpx as a client would: token, webpayment,
payment page, notification and transactionstatus, with the control switches; plus its state logic as plain
functions."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from aiohttp import test_utils

from payments.sandbox.control import SandboxControl
from payments.sandbox.orange.state import WebPayment, WebPaymentRequest
from payments.sandbox.orange.webpay import decide_webpay, webpay_notification, webpay_status
from tests.payments import Receiver, poll
from tests.payments.sandbox.orange_sandbox import webpay_token

SANDBOX = "/orange"  # where the `http` fixture (conftest.py) sends its requests
WEBPAY = "/orange-money-webpay/dev/v1"


@pytest.fixture
async def bearer(http: httpx.AsyncClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {await webpay_token(http)}"}


def webpayment_body(receiver: Receiver, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "merchant_key": "merchant-key",
        "currency": "OUV",
        "order_id": uuid.uuid4().hex[:20],
        "amount": 500,
        "return_url": "https://ballot.example/paid",
        "cancel_url": "https://ballot.example/cancelled",
        "notif_url": receiver.url("/om/notify"),
        "lang": "fr",
        "reference": "Demo Star 2026",
    }
    body.update(changes)
    return body


async def start_webpayment(http: httpx.AsyncClient, bearer: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(f"{WEBPAY}/webpayment", headers=bearer, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def webpay_status_of(
    http: httpx.AsyncClient, bearer: dict[str, str], body: dict[str, Any], started: dict[str, Any]
) -> dict[str, Any]:
    query = {"order_id": body["order_id"], "amount": body["amount"], "pay_token": started["pay_token"]}
    response = await http.post(f"{WEBPAY}/transactionstatus", headers=bearer, json=query)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def press(started: dict[str, Any], decision: str) -> httpx.Response:
    """What the payer's browser does: open payment_url, then submit one of its forms."""
    async with httpx.AsyncClient(timeout=5) as browser:
        page = await browser.get(started["payment_url"])
        assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
        action = re.search(r'action="([^"]+)"', page.text)
        assert action is not None
        return await browser.post(str(page.url.join(action.group(1))), data={"decision": decision})


async def submit(started: dict[str, Any], decision: str) -> httpx.Response:
    """A stale page's form submitted again (double click, back button): it posts to payment_url."""
    async with httpx.AsyncClient(timeout=5) as browser:
        return await browser.post(started["payment_url"], data={"decision": decision})


async def test_webpay_token_has_a_string_expires_in(http: httpx.AsyncClient) -> None:
    response = await http.post("/oauth/v3/token", auth=("id", "secret"), data={"grant_type": "client_credentials"})
    body = response.json()
    assert (response.status_code, body["token_type"], body["expires_in"]) == (200, "Bearer", "7776000")


@pytest.mark.parametrize(
    ("credentials", "form", "status", "error"),
    [
        (None, {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (("id", ""), {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (("id", "secret"), {"grant_type": "password"}, 400, "unsupported_grant_type"),
        (("id", "secret"), {}, 400, "invalid_request"),
    ],
)
async def test_token_errors_are_oauth_errors(
    http: httpx.AsyncClient, credentials: tuple[str, str] | None, form: dict[str, str], status: int, error: str
) -> None:
    for path in ("/oauth/v3/token", "/token"):
        response = await http.post(path, auth=credentials, data=form)
        assert (response.status_code, response.json()["error"]) == (status, error)


async def test_webpayment_answers_201_with_a_payment_page(
    http: httpx.AsyncClient, bearer: dict[str, str], receiver: Receiver, sandbox: test_utils.TestServer
) -> None:
    started = await start_webpayment(http, bearer, webpayment_body(receiver))
    assert (started["status"], started["message"]) == (201, "OK")
    assert started["pay_token"] and started["notif_token"]
    assert started["payment_url"] == str(sandbox.make_url(f"/orange/webpay/pay/{started['pay_token']}"))


async def test_reused_order_id_is_refused(http: httpx.AsyncClient, bearer: dict[str, str], receiver: Receiver) -> None:
    body = webpayment_body(receiver)
    await start_webpayment(http, bearer, body)
    again = await http.post(f"{WEBPAY}/webpayment", headers=bearer, json=body)
    assert again.status_code == 409
    assert body["order_id"] in again.json()["description"]


@pytest.mark.parametrize(
    ("path", "change"),
    [
        (WEBPAY, {"amount": "500"}),
        (WEBPAY, {"amount": 0}),
        (WEBPAY, {"currency": "XAF"}),
        ("/orange-money-webpay/cm/v1", {"currency": "OUV"}),
        (WEBPAY, {"notif_url": None}),
        (WEBPAY, {"return_url": "ballot.example/paid"}),
        (WEBPAY, {"lang": "de"}),
        (WEBPAY, {"order_id": ""}),
    ],
)
async def test_bad_webpayment_answers_400(
    http: httpx.AsyncClient, bearer: dict[str, str], receiver: Receiver, path: str, change: dict[str, Any]
) -> None:
    response = await http.post(f"{path}/webpayment", headers=bearer, json=webpayment_body(receiver, **change))
    assert response.status_code == 400
    assert response.json()["status"] == 400


async def test_live_country_takes_its_currency(
    http: httpx.AsyncClient, bearer: dict[str, str], receiver: Receiver
) -> None:
    body = webpayment_body(receiver, currency="XAF")
    response = await http.post("/orange-money-webpay/cm/v1/webpayment", headers=bearer, json=body)
    assert response.status_code == 201
    query = {"order_id": body["order_id"], "amount": 500, "pay_token": response.json()["pay_token"]}
    assert (await http.post(f"{WEBPAY}/transactionstatus", headers=bearer, json=query)).status_code == 404
    assert (await http.post("/orange-money-webpay/cm/v1/transactionstatus", headers=bearer, json=query)).json()[
        "status"
    ] == "INITIATED"


async def test_webpay_401_codes_for_missing_invalid_and_expired_tokens(
    http: httpx.AsyncClient, bearer: dict[str, str], receiver: Receiver, control: SandboxControl
) -> None:
    body = webpayment_body(receiver)
    missing = await http.post(f"{WEBPAY}/webpayment", json=body)
    invalid = await http.post(f"{WEBPAY}/webpayment", headers={"Authorization": "Bearer forged"}, json=body)
    control.expire_tokens()
    expired = await http.post(f"{WEBPAY}/webpayment", headers=bearer, json=body)
    assert [r.status_code for r in (missing, invalid, expired)] == [401, 401, 401]
    assert [r.json()["code"] for r in (missing, invalid, expired)] == [40, 41, 42]
    fresh = {"Authorization": f"Bearer {await webpay_token(http)}"}
    assert (await http.post(f"{WEBPAY}/webpayment", headers=fresh, json=body)).status_code == 201


async def test_payer_pays_on_the_page(http: httpx.AsyncClient, bearer: dict[str, str], receiver: Receiver) -> None:
    body = webpayment_body(receiver)
    started = await start_webpayment(http, bearer, body)
    initiated = await webpay_status_of(http, bearer, body, started)
    assert initiated == {"status": "INITIATED", "order_id": body["order_id"]}

    async with httpx.AsyncClient(timeout=5) as browser:
        page = await browser.get(started["payment_url"])
    assert page.text.count("<form") == 2 and "Demo Star 2026" in page.text
    assert (await webpay_status_of(http, bearer, body, started))["status"] == "PENDING"

    paid = await press(started, "pay")
    assert (paid.status_code, paid.headers["Location"]) == (302, body["return_url"])
    [notice] = await receiver.wait_for("/om/notify")
    assert notice.method == "POST"
    assert notice.body["status"] == "SUCCESS" and notice.body["notif_token"] == started["notif_token"]
    status = await webpay_status_of(http, bearer, body, started)
    assert status == {"status": "SUCCESS", "order_id": body["order_id"], "txnid": notice.body["txnid"]}


async def test_payer_cancels_and_cannot_change_their_mind(
    http: httpx.AsyncClient, bearer: dict[str, str], receiver: Receiver
) -> None:
    body = webpayment_body(receiver)
    started = await start_webpayment(http, bearer, body)
    cancelled = await press(started, "cancel")
    assert (cancelled.status_code, cancelled.headers["Location"]) == (302, body["cancel_url"])
    [notice] = await receiver.wait_for("/om/notify")
    assert notice.body == {"status": "FAILED", "notif_token": started["notif_token"]}

    again = await submit(started, "pay")
    assert (again.status_code, again.headers["Location"]) == (302, body["cancel_url"])
    assert (await webpay_status_of(http, bearer, body, started))["status"] == "FAILED"
    assert len(receiver.at("/om/notify")) == 1


@pytest.mark.parametrize("outcome", ["SUCCESS", "FAILED"])
async def test_auto_outcome_decides_without_a_payer(
    http: httpx.AsyncClient, bearer: dict[str, str], receiver: Receiver, control: SandboxControl, outcome: str
) -> None:
    control.webpay_auto_outcome = outcome  # type: ignore[assignment]
    body = webpayment_body(receiver)
    started = await start_webpayment(http, bearer, body)
    [notice] = await receiver.wait_for("/om/notify")
    assert (notice.body["status"], notice.body["notif_token"]) == (outcome, started["notif_token"])
    assert (await webpay_status_of(http, bearer, body, started))["status"] == outcome


async def test_payer_decision_beats_a_later_auto_outcome(
    http: httpx.AsyncClient, bearer: dict[str, str], receiver: Receiver, control: SandboxControl
) -> None:
    control.webpay_auto_outcome, control.success_delay = "FAILED", 0.5
    body = webpayment_body(receiver)
    started = await start_webpayment(http, bearer, body)
    await press(started, "pay")
    [notice] = await receiver.wait_for("/om/notify")
    assert notice.body["status"] == "SUCCESS"
    # A payment started later is auto-decided later still: once its notification is in, the first payment's
    # auto outcome is past due, and it changed nothing.
    await start_webpayment(http, bearer, webpayment_body(receiver, notif_url=receiver.url("/om/later")))
    await receiver.wait_for("/om/later")
    assert (await webpay_status_of(http, bearer, body, started))["status"] == "SUCCESS"
    assert len(receiver.at("/om/notify")) == 1


async def test_undecided_payment_expires_without_notification(
    http: httpx.AsyncClient, bearer: dict[str, str], receiver: Receiver, control: SandboxControl
) -> None:
    control.webpay_expiry = 0.05
    body = webpayment_body(receiver)
    started = await start_webpayment(http, bearer, body)
    await poll(lambda: webpay_status_of(http, bearer, body, started), lambda s: s["status"] == "EXPIRED", timeout=1)
    late = await submit(started, "pay")
    assert late.headers["Location"] == body["cancel_url"]
    assert receiver.received == []


async def test_transactionstatus_needs_matching_order_amount_and_token(
    http: httpx.AsyncClient, bearer: dict[str, str], receiver: Receiver
) -> None:
    body = webpayment_body(receiver)
    started = await start_webpayment(http, bearer, body)
    for query in (
        {"order_id": body["order_id"], "amount": 501, "pay_token": started["pay_token"]},
        {"order_id": "someone-else", "amount": 500, "pay_token": started["pay_token"]},
        {"order_id": body["order_id"], "amount": 500, "pay_token": "v1unknown"},
    ):
        response = await http.post(f"{WEBPAY}/transactionstatus", headers=bearer, json=query)
        assert response.status_code == 404
    response = await http.post(f"{WEBPAY}/transactionstatus", headers=bearer, json={"order_id": body["order_id"]})
    assert response.status_code == 400


async def test_webpay_duplicate_and_dropped_notifications(
    http: httpx.AsyncClient, bearer: dict[str, str], receiver: Receiver, control: SandboxControl
) -> None:
    control.webpay_auto_outcome, control.duplicate_callbacks = "SUCCESS", 2
    await start_webpayment(http, bearer, webpayment_body(receiver, notif_url=receiver.url("/om/twice")))
    twice = await receiver.wait_for("/om/twice", count=2)
    assert twice[0].body == twice[1].body

    control.drop_callbacks = True
    body = webpayment_body(receiver, notif_url=receiver.url("/om/lost"))
    started = await start_webpayment(http, bearer, body)
    await poll(lambda: webpay_status_of(http, bearer, body, started), lambda s: s["status"] == "SUCCESS", timeout=1)
    assert receiver.at("/om/lost") == []


async def test_a_lost_answer_still_opened_the_page_so_its_order_id_is_refused_after(
    http: httpx.AsyncClient, bearer: dict[str, str], receiver: Receiver, control: SandboxControl
) -> None:
    body = webpayment_body(receiver)
    assert (await http.post("/_control", json={"lose_answers": 1})).json()["lose_answers"] == 1
    with pytest.raises(httpx.RemoteProtocolError):  # the connection drops once the page exists
        await http.post(f"{WEBPAY}/webpayment", headers=bearer, json=body)
    assert control.lose_answers == 0
    again = await http.post(f"{WEBPAY}/webpayment", headers=bearer, json=body)
    assert again.status_code == 409
    await start_webpayment(http, bearer, {**body, "order_id": f"{body['order_id']}-2"})


async def test_webpay_5xx_burst_then_recovery(http: httpx.AsyncClient, receiver: Receiver) -> None:
    await http.post("/_control", json={"fail_next": 2})
    form = {"grant_type": "client_credentials"}
    failed = [await http.post("/oauth/v3/token", auth=("id", "secret"), data=form) for _ in range(2)]
    assert [(r.status_code, r.json()["code"]) for r in failed] == [(503, 5), (503, 5)]
    token = await webpay_token(http)
    await start_webpayment(http, {"Authorization": f"Bearer {token}"}, webpayment_body(receiver))


# --- pure logic ----------------------------------------------------------------------------------------------


def _payment(expires_at: float = 100.0) -> WebPayment:
    request = WebPaymentRequest.model_validate(
        {"merchant_key": "k", "currency": "OUV", "order_id": "o", "amount": 500, "return_url": "http://r",
         "cancel_url": "http://c", "notif_url": "http://n", "lang": "fr"}
    )
    return WebPayment("v1tok", "notif", "dev", request, expires_at=expires_at, txnid="MP1")


def test_webpay_states_move_forward_only() -> None:
    payment = _payment()
    assert webpay_status(payment, 1) == "INITIATED"
    payment.opened = True
    assert webpay_status(payment, 1) == "PENDING"
    assert decide_webpay(payment, "FAILED", 2)
    assert not decide_webpay(payment, "SUCCESS", 3)
    assert webpay_status(payment, 200) == "FAILED"
    assert webpay_notification(payment, 3) == {"status": "FAILED", "notif_token": "notif"}


def test_webpay_expiry_wins_over_a_later_auto_outcome() -> None:
    payment = _payment(expires_at=10)
    payment.outcome, payment.due_at = "SUCCESS", 20
    assert webpay_status(payment, 15) == "EXPIRED"
    assert webpay_status(payment, 25) == "EXPIRED"
    assert webpay_notification(payment, 25) is None
    assert not decide_webpay(payment, "SUCCESS", 25)
