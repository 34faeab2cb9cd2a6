"""The Orange Money sandbox's Cameroon USSD-push "mp" API over real HTTP, driven with httpx as a client would:
token, init, pay, paymentstatus and notification, outcomes per magic number, business errors in French, with the
control switches; plus, as plain functions, its outcome table and each country's WebPay currency."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest

from payments.sandbox.control import Delay, SandboxControl
from payments.sandbox.orange.ussd_push import mp_plan_for
from payments.sandbox.orange.webpay import currency_problem
from tests.payments import Receiver, poll
from tests.payments.sandbox.orange_sandbox import webpay_token

SANDBOX = "/orange"  # where the `http` fixture (conftest.py) sends its requests
MP = "/omcoreapis/1.0.2/mp"
X_AUTH = {"X-AUTH-TOKEN": base64.b64encode(b"api-username:api-password").decode()}
ORDINARY = "690000001"


@pytest.fixture
async def mp_headers(http: httpx.AsyncClient) -> dict[str, str]:
    form = {"grant_type": "client_credentials"}
    response = await http.post("/token", auth=("consumer-key", "consumer-secret"), data=form)
    assert response.status_code == 200
    assert (response.json()["token_type"], response.json()["expires_in"]) == ("Bearer", 3600)
    return {"Authorization": f"Bearer {response.json()['access_token']}", **X_AUTH}


async def mp_init(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await http.post(f"{MP}/init", headers=headers)
    assert response.status_code == 200, response.text
    pay_token = response.json()["data"]["payToken"]
    assert pay_token.startswith("MP")
    return str(pay_token)


def mp_body(pay_token: str, subscriber: str = ORDINARY, notif_url: str | None = None, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subscriberMsisdn": subscriber,
        "channelUserMsisdn": "691234567",
        "amount": "500",
        "description": "Vote 07 Demo Star",
        "orderId": uuid.uuid4().hex[:20],
        "pin": "2222",
        "payToken": pay_token,
    }
    if notif_url:
        body["notifUrl"] = notif_url
    body.update(changes)
    return body


async def mp_status(http: httpx.AsyncClient, headers: dict[str, str], pay_token: str) -> dict[str, Any]:
    response = await http.get(f"{MP}/paymentstatus/{pay_token}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


async def mp_pay(
    http: httpx.AsyncClient, headers: dict[str, str], subscriber: str = ORDINARY, notif_url: str | None = None
) -> str:
    pay_token = await mp_init(http, headers)
    response = await http.post(f"{MP}/pay", headers=headers, json=mp_body(pay_token, subscriber, notif_url))
    assert response.status_code == 200, response.text
    return pay_token


async def test_mp_pay_answers_pending_without_txnid(http: httpx.AsyncClient, mp_headers: dict[str, str]) -> None:
    pay_token = await mp_init(http, mp_headers)
    response = await http.post(f"{MP}/pay", headers=mp_headers, json=mp_body(pay_token))
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["payToken"], data["status"], data["txnid"]) == (pay_token, "PENDING", None)
    assert (data["subscriberMsisdn"], data["amount"]) == (ORDINARY, 500)


@pytest.mark.parametrize(
    ("subscriber", "expected"),
    [
        ("690123450", "FAILED"),
        ("690123451", "CANCELLED"),
        ("690123452", "EXPIRED"),
        ("690123455", "FAILED"),
        (ORDINARY, "SUCCESSFULL"),
    ],
)
async def test_mp_magic_numbers_decide_the_outcome_and_notification(
    http: httpx.AsyncClient, mp_headers: dict[str, str], receiver: Receiver, subscriber: str, expected: str
) -> None:
    pay_token = await mp_pay(http, mp_headers, subscriber, receiver.url(f"/mp/{subscriber}"))
    data = await poll(lambda: mp_status(http, mp_headers, pay_token), lambda d: d["status"] != "PENDING")
    assert data["status"] == expected
    assert (data["txnid"] is not None) == (expected == "SUCCESSFULL")
    [notice] = await receiver.wait_for(f"/mp/{subscriber}")
    assert notice.method == "POST"
    assert notice.body == {"payToken": pay_token, "status": expected, "message": data["confirmtxnmessage"]}


async def test_mp_pending_forever_and_delayed_success(
    http: httpx.AsyncClient, mp_headers: dict[str, str], receiver: Receiver, control: SandboxControl
) -> None:
    # Long enough that the delayed one is still pending when the ordinary one's callback has come, however busy
    # the machine (0.4 s was not, with every core taken).
    control.long_delay = 3.0
    forever = await mp_pay(http, mp_headers, "690123453", receiver.url("/mp/forever"))
    delayed = await mp_pay(http, mp_headers, "690123454", receiver.url("/mp/delayed"))
    ordinary = await mp_pay(http, mp_headers, ORDINARY, receiver.url("/mp/ordinary"))
    await receiver.wait_for("/mp/ordinary")
    assert (await mp_status(http, mp_headers, delayed))["status"] == "PENDING"
    [notice] = await receiver.wait_for("/mp/delayed")
    assert notice.body["status"] == "SUCCESSFULL"
    assert (await mp_status(http, mp_headers, forever))["status"] == "PENDING"
    assert (await mp_status(http, mp_headers, ordinary))["status"] == "SUCCESSFULL"
    assert receiver.at("/mp/forever") == []


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"subscriberMsisdn": "237690000001"}, "abonné"),
        ({"subscriberMsisdn": "+690000001"}, "abonné"),
        ({"amount": 500}, "montant"),
        ({"pin": ""}, "PIN"),
        ({"payToken": "MP-never-issued"}, "inconnu"),
    ],
)
async def test_mp_business_errors_answer_417_in_french(
    http: httpx.AsyncClient, mp_headers: dict[str, str], change: dict[str, Any], word: str
) -> None:
    pay_token = await mp_init(http, mp_headers)
    response = await http.post(f"{MP}/pay", headers=mp_headers, json=mp_body(pay_token, **change))
    assert response.status_code == 417
    assert word in response.json()["message"]


async def test_mp_pay_token_is_single_use(http: httpx.AsyncClient, mp_headers: dict[str, str]) -> None:
    pay_token = await mp_pay(http, mp_headers)
    again = await http.post(f"{MP}/pay", headers=mp_headers, json=mp_body(pay_token))
    assert again.status_code == 417 and "déjà" in again.json()["message"]
    unknown = await http.get(f"{MP}/paymentstatus/MPunknown", headers=mp_headers)
    assert unknown.status_code == 417


async def test_mp_needs_a_live_bearer_and_x_auth_token(
    http: httpx.AsyncClient, mp_headers: dict[str, str], control: SandboxControl
) -> None:
    without_x_auth = {"Authorization": mp_headers["Authorization"]}
    bad_x_auth = {**mp_headers, "X-AUTH-TOKEN": "not-base64"}
    for headers in (without_x_auth, bad_x_auth, X_AUTH):
        assert (await http.post(f"{MP}/init", headers=headers)).status_code == 401
    webpay_bearer = {"Authorization": f"Bearer {await webpay_token(http)}", **X_AUTH}
    assert (await http.post(f"{MP}/init", headers=webpay_bearer)).status_code == 401

    control.expire_tokens()
    expired = await http.post(f"{MP}/init", headers=mp_headers)
    assert expired.status_code == 401 and expired.json()["fault"]["code"] == 900901


async def test_mp_duplicate_and_dropped_notifications(
    http: httpx.AsyncClient, mp_headers: dict[str, str], receiver: Receiver, control: SandboxControl
) -> None:
    control.duplicate_callbacks = 2
    await mp_pay(http, mp_headers, notif_url=receiver.url("/mp/twice"))
    assert len(await receiver.wait_for("/mp/twice", count=2)) == 2

    control.drop_callbacks = True
    lost = await mp_pay(http, mp_headers, notif_url=receiver.url("/mp/lost"))
    await poll(lambda: mp_status(http, mp_headers, lost), lambda d: d["status"] == "SUCCESSFULL")
    assert receiver.at("/mp/lost") == []


async def test_mp_5xx_burst_then_recovery(
    http: httpx.AsyncClient, mp_headers: dict[str, str], control: SandboxControl
) -> None:
    control.fail_next, control.fail_status = 1, 500
    failed = await http.post(f"{MP}/init", headers=mp_headers)
    assert (failed.status_code, failed.json()["code"]) == (500, 1)
    assert await mp_init(http, mp_headers)


async def test_mp_throttle_share_answers_the_gateways_403_code_53(
    http: httpx.AsyncClient, mp_headers: dict[str, str], control: SandboxControl
) -> None:
    control.throttle_share = 1.0
    refused = await http.post(f"{MP}/init", headers=mp_headers)
    assert (refused.status_code, refused.json()["code"]) == (403, 53)  # Orange's gateway over an application's rate
    control.throttle_share = 0.0
    assert await mp_init(http, mp_headers)


# --- pure logic ----------------------------------------------------------------------------------------------


def test_currency_rules_and_mp_table() -> None:
    assert currency_problem("dev", "OUV") is None and currency_problem("cm", "XAF") is None
    assert currency_problem("dev", "XAF") and currency_problem("ci", "OUV")
    assert mp_plan_for("690000453").delay is Delay.NEVER
    assert (mp_plan_for("690000451").status, mp_plan_for("690000001").status) == ("CANCELLED", "SUCCESSFULL")
