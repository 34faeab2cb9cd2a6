"""The Airtel sandbox as a client sees it over HTTP: Airtel's token (a JSON body, `expires_in` a string), the push's
strict body and headers, a repeated id refused, the enquiry's TIP until the outcome is due, and the callback on the
application's URL, hashed with its key (or not, once authentication is switched off)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from payments.airtel.callback_hash import hash_holds
from payments.sandbox.control import SandboxControl
from tests.payments import Receiver, poll

SANDBOX = "/airtel"
KEY = "sandbox-airtel-callback-key"
UG = {"X-Country": "UG", "X-Currency": "UGX"}


async def token_of(http: httpx.AsyncClient) -> str:
    answer = await http.post("/auth/oauth2/token", json={"client_id": "c", "client_secret": "s",
                                                          "grant_type": "client_credentials"})
    assert answer.status_code == 200 and isinstance(answer.json()["expires_in"], str)
    return str(answer.json()["access_token"])


def push_body(msisdn: str = "700000001", txn: str = "", **transaction: Any) -> dict[str, Any]:
    return {"reference": "5 votes", "subscriber": {"country": "UG", "currency": "UGX", "msisdn": msisdn},
            "transaction": {"amount": 2500, "country": "UG", "currency": "UGX", "id": txn or uuid.uuid4().hex,
                            **transaction}}


async def push(http: httpx.AsyncClient, token: str, body: dict[str, Any],
               headers: dict[str, str] = UG) -> httpx.Response:
    return await http.post("/merchant/v1/payments/", json=body, headers={"Authorization": f"Bearer {token}",
                                                                          **headers})


async def enquire(http: httpx.AsyncClient, token: str, txn: str) -> httpx.Response:
    return await http.get(f"/standard/v1/payments/{txn}", headers={"Authorization": f"Bearer {token}", **UG})


async def test_a_push_is_in_process_then_paid_and_called_back_with_its_hash(
        http: httpx.AsyncClient, receiver: Receiver) -> None:
    assert (await http.post("/_app", json={"callback_url": receiver.url("/airtel-callback")})).status_code == 200
    token, body = await token_of(http), push_body()
    answer = await push(http, token, body)
    assert answer.status_code == 200 and answer.json()["status"]["response_code"] == "DP00800001006"
    txn = body["transaction"]["id"]
    assert (await enquire(http, token, txn)).json()["data"]["transaction"]["status"] == "TIP"
    [called] = await receiver.wait_for("/airtel-callback")
    record = called.body["transaction"]
    assert record["id"] == txn and record["status_code"] == "TS" and hash_holds(KEY, record, called.body["hash"])
    paid = (await enquire(http, token, txn)).json()
    assert paid["data"]["transaction"]["status"] == "TS" and paid["status"]["response_code"] == "DP00800001001"


@pytest.mark.parametrize(("changes", "headers"), [
    ({"msisdn": "256700000001"}, UG),  # the country code is not Airtel's to take
    ({}, {"X-Country": "KE", "X-Currency": "KES"}),  # headers that are not the transaction's
    ({}, {}),
])
async def test_a_push_airtel_would_refuse_is_refused(http: httpx.AsyncClient, changes: dict[str, str],
                                                     headers: dict[str, str]) -> None:
    token = await token_of(http)
    answer = await push(http, token, push_body(**changes), headers)
    assert answer.status_code == 400 and answer.json()["status"]["success"] is False


async def test_a_repeated_id_is_refused_and_an_unknown_one_not_found(http: httpx.AsyncClient) -> None:
    token, body = await token_of(http), push_body()
    assert (await push(http, token, body)).status_code == 200
    assert (await push(http, token, body)).status_code == 400
    missing = await enquire(http, token, uuid.uuid4().hex)
    assert missing.status_code == 404 and missing.json()["status"]["response_code"] == "DP00800001025"


async def test_tokens_are_checked_and_refused_credentials_say_so(http: httpx.AsyncClient,
                                                                 control: SandboxControl) -> None:
    token = await token_of(http)
    control.expire_tokens()
    assert (await push(http, token, push_body())).status_code == 401
    control.reject_credentials = True
    refused = await http.post("/auth/oauth2/token", json={"client_id": "c", "client_secret": "s",
                                                           "grant_type": "client_credentials"})
    assert refused.status_code == 401


async def test_callbacks_without_authentication_carry_no_hash_and_a_failure_says_tf(
        http: httpx.AsyncClient, receiver: Receiver) -> None:
    await http.post("/_app", json={"callback_url": receiver.url("/cb"), "callback_key": None})
    token = await token_of(http)
    await push(http, token, push_body("700000451"))
    [called] = await receiver.wait_for("/cb")
    assert "hash" not in called.body and called.body["transaction"]["status_code"] == "TF"
    txn = called.body["transaction"]["id"]
    failed = await poll(lambda: enquire(http, token, txn), lambda r: r.json()["data"]["transaction"]["status"] != "TIP")
    assert failed.json()["status"]["response_code"] == "DP00800001007"
