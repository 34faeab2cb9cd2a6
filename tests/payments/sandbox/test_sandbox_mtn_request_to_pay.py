"""The MTN MoMo sandbox's request to pay over real HTTP, driven with httpx as a client would: status transitions
per magic number, callbacks (PUT or POST, duplicated, dropped), the cap on status calls, 5xx bursts, slow answers,
bad inputs, unknown references, account holders and sandbox provisioning."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from payments.sandbox.control import SandboxControl
from tests.payments import Receiver
from tests.payments.sandbox.mtn_sandbox import (
    ORDINARY,
    SUBSCRIPTION,
    auth,
    final_status,
    get_token,
    pay_body,
    request_to_pay,
    status,
)

SANDBOX = "/mtn"  # where the `http` fixture (conftest.py) sends its requests


async def test_request_to_pay_answers_202_with_an_empty_body(http: httpx.AsyncClient, token: str) -> None:
    _, response = await request_to_pay(http, token)
    assert response.status_code == 202
    assert response.content == b""


async def test_reused_reference_answers_409(http: httpx.AsyncClient, token: str) -> None:
    reference, first = await request_to_pay(http, token)
    _, again = await request_to_pay(http, token, reference=reference.upper())
    assert (first.status_code, again.status_code) == (202, 409)
    assert again.json() == {
        "code": "RESOURCE_ALREADY_EXIST",
        "message": "Duplicated reference id. Creation of resource failed.",
    }


async def test_status_is_pending_before_the_outcome(
    http: httpx.AsyncClient, token: str, control: SandboxControl
) -> None:
    control.success_delay = 5
    reference, _ = await request_to_pay(http, token)
    body = await status(http, token, reference)
    assert body["status"] == "PENDING"
    assert "financialTransactionId" not in body and "reason" not in body
    assert body["payer"] == {"partyIdType": "MSISDN", "partyId": ORDINARY}
    assert (body["amount"], body["currency"], body["externalId"]) == ("500", "XAF", "order-42")


async def test_status_calls_over_the_cap_answer_429_like_mtns_gateway(
    http: httpx.AsyncClient, token: str, control: SandboxControl
) -> None:
    control.status_calls_per_second = 3
    reference, _ = await request_to_pay(http, token)
    clock = asyncio.get_running_loop()  # the sandbox's clock (payments.sandbox.control.loop_time): it runs here
    for _ in range(30):  # each burst from the top of one of its seconds; one that straddles two: try again
        await asyncio.sleep(1 - clock.time() % 1)
        second = int(clock.time())
        answers = [await http.get(f"/collection/v1_0/requesttopay/{reference}", headers=auth(token))
                   for _ in range(6)]
        if int(clock.time()) == second:
            break
    else:
        pytest.fail("no burst of 6 status calls fit in one of the sandbox's seconds in 30 tries")
    codes = [answer.status_code for answer in answers]
    assert 200 in codes and codes.count(429) >= 2
    limited = next(answer for answer in answers if answer.status_code == 429)
    assert limited.headers["Retry-After"] == "1" and "Rate limit" in limited.json()["message"]


@pytest.mark.parametrize(
    ("party", "expected", "reason"),
    [
        ("46733123450", "FAILED", "INTERNAL_PROCESSING_ERROR"),
        ("46733123451", "FAILED", "APPROVAL_REJECTED"),
        ("46733123452", "FAILED", "EXPIRED"),
        ("46733123455", "FAILED", "PAYER_NOT_FOUND"),
        ("237670000451", "FAILED", "APPROVAL_REJECTED"),
        ("46733123456", "SUCCESSFUL", None),
        (ORDINARY, "SUCCESSFUL", None),
    ],
)
async def test_magic_numbers_decide_the_outcome_and_the_callback(
    http: httpx.AsyncClient, token: str, receiver: Receiver, party: str, expected: str, reason: str | None
) -> None:
    reference, _ = await request_to_pay(http, token, party, callback=receiver.url(f"/momo/{party}"))
    body = await final_status(http, token, reference)
    assert body["status"] == expected
    assert body.get("reason") == reason
    assert ("financialTransactionId" in body) == (expected == "SUCCESSFUL")
    [callback] = await receiver.wait_for(f"/momo/{party}")
    assert callback.method == "PUT"
    assert callback.body == body


async def test_pending_forever_and_delayed_success(http: httpx.AsyncClient, token: str, receiver: Receiver) -> None:
    forever, _ = await request_to_pay(http, token, "46733123453", callback=receiver.url("/forever"))
    delayed, _ = await request_to_pay(http, token, "46733123454", callback=receiver.url("/delayed"))
    ordinary, _ = await request_to_pay(http, token, ORDINARY, callback=receiver.url("/ordinary"))

    assert (await final_status(http, token, ordinary))["status"] == "SUCCESSFUL"
    assert (await status(http, token, delayed))["status"] == "PENDING"
    assert receiver.at("/delayed") == []

    body = await final_status(http, token, delayed)
    assert body["status"] == "SUCCESSFUL" and body["financialTransactionId"]
    [callback] = await receiver.wait_for("/delayed")
    assert callback.body["status"] == "SUCCESSFUL"
    assert (await status(http, token, forever))["status"] == "PENDING"
    assert receiver.at("/forever") == []


async def test_callback_is_unsigned_json_shaped_like_the_status(
    http: httpx.AsyncClient, token: str, receiver: Receiver
) -> None:
    path = f"/cb/{uuid.uuid4()}"
    reference, _ = await request_to_pay(http, token, callback=receiver.url(path))
    [callback] = await receiver.wait_for(path)
    assert callback.headers["Content-Type"].startswith("application/json")
    assert not {name.lower() for name in callback.headers} & {"authorization", "x-signature", "signature"}
    assert set(callback.body) >= {"amount", "currency", "financialTransactionId", "externalId", "payer", "status"}
    assert callback.body == await status(http, token, reference)


async def test_callback_method_can_be_post(http: httpx.AsyncClient, token: str, receiver: Receiver) -> None:
    assert (await http.post("/_control", json={"callback_method": "POST"})).json()["callback_method"] == "POST"
    await request_to_pay(http, token, callback=receiver.url("/cb"))
    [callback] = await receiver.wait_for("/cb")
    assert callback.method == "POST"


async def test_duplicate_callbacks(
    http: httpx.AsyncClient, token: str, receiver: Receiver, control: SandboxControl
) -> None:
    control.duplicate_callbacks = 3
    await request_to_pay(http, token, callback=receiver.url("/cb"))
    callbacks = await receiver.wait_for("/cb", count=3)
    assert len(callbacks) == 3
    assert all(callback.body == callbacks[0].body for callback in callbacks)


async def test_dropped_callback_still_decides_the_outcome(
    http: httpx.AsyncClient, token: str, receiver: Receiver, control: SandboxControl
) -> None:
    control.drop_callbacks = True
    dropped, _ = await request_to_pay(http, token, callback=receiver.url("/dropped"))
    assert (await final_status(http, token, dropped))["status"] == "SUCCESSFUL"
    control.drop_callbacks = False
    # A later payment's callback arriving shows callbacks work and the dropped one's time has passed.
    await request_to_pay(http, token, callback=receiver.url("/later"))
    await receiver.wait_for("/later")
    assert receiver.at("/dropped") == []


@pytest.mark.parametrize(("fail_status", "code"), [(503, "SERVICE_UNAVAILABLE"), (500, "INTERNAL_PROCESSING_ERROR")])
async def test_5xx_burst_then_recovery(http: httpx.AsyncClient, token: str, fail_status: int, code: str) -> None:
    response = await http.post("/_control", json={"fail_next": 2, "fail_status": fail_status})
    assert response.json()["fail_next"] == 2
    first = await http.post("/collection/token/", auth=("api-user", "api-key"), headers=SUBSCRIPTION)
    reference, second = await request_to_pay(http, token)
    assert (first.status_code, second.status_code) == (fail_status, fail_status)
    assert first.json()["code"] == second.json()["code"] == code
    # The failed request was not stored: the same reference now goes through.
    _, third = await request_to_pay(http, token, reference=reference)
    assert third.status_code == 202


async def test_a_throttle_share_set_at_run_time_refuses_that_share_with_mtns_429(http: httpx.AsyncClient,
                                                                               token: str) -> None:
    changed = await http.post("/_control", json={"throttle_share": 0.5})
    assert changed.json()["throttle_share"] == 0.5
    sent = [await request_to_pay(http, token) for _ in range(10)]
    refused = [(reference, answer) for reference, answer in sent if answer.status_code == 429]
    assert len(refused) == 5 and {answer.status_code for _, answer in sent} == {202, 429}
    reference, answer = refused[0]
    assert answer.json()["statusCode"] == 429 and answer.headers["Retry-After"] == "1"
    # A refused request was not stored: the same reference goes through once the share is back to 0.
    await http.post("/_control", json={"throttle_share": 0})
    assert (await request_to_pay(http, token, reference=reference))[1].status_code == 202
    assert (await http.post("/_control", json={"throttle_share": 1.5})).status_code == 400


async def test_a_decline_share_declines_that_share_of_ordinary_payments_and_leaves_magic_numbers_alone(
        http: httpx.AsyncClient, token: str, control: SandboxControl) -> None:
    control.success_delay = 0
    changed = await http.post("/_control", json={"decline_share": 0.5})
    assert changed.json()["decline_share"] == 0.5
    references = [(await request_to_pay(http, token))[0] for _ in range(6)]
    outcomes = [await final_status(http, token, reference) for reference in references]
    declined = [body for body in outcomes if body["status"] == "FAILED"]
    assert len(declined) == 3 and {body["reason"] for body in declined} == {"INTERNAL_PROCESSING_ERROR"}
    assert "financialTransactionId" not in declined[0]
    # A payer number that asks for an outcome keeps it (the delayed one still succeeds, the 455 still fails).
    control.long_delay = 0
    asked = [(await request_to_pay(http, token, party=f"46733123{suffix}"))[0] for suffix in ("454", "454", "455")]
    assert [(await final_status(http, token, r))["status"] for r in asked] == ["SUCCESSFUL", "SUCCESSFUL", "FAILED"]
    assert (await http.post("/_control", json={"decline_share": 1.5})).status_code == 400


async def test_answer_delay_slows_every_answer(http: httpx.AsyncClient, control: SandboxControl) -> None:
    control.answer_delay = 0.2
    started = asyncio.get_running_loop().time()
    await get_token(http)
    assert asyncio.get_running_loop().time() - started >= 0.2


@pytest.mark.parametrize(
    ("header_change", "body_change", "code"),
    [
        ({}, {"amount": 500}, "BAD_REQUEST"),
        ({}, {"amount": "5.00"}, "BAD_REQUEST"),
        ({}, {"amount": "0"}, "BAD_REQUEST"),
        ({}, {"currency": "USD"}, "INVALID_CURRENCY"),
        ({}, {"payer": {"partyIdType": "MSISDN", "partyId": "+237670000001"}}, "BAD_REQUEST"),
        ({}, {"payer": None}, "BAD_REQUEST"),
        ({}, {"payerMessage": "Votes & more"}, "BAD_REQUEST"),
        ({}, {"payeeNote": "x" * 161}, "BAD_REQUEST"),
        ({"X-Reference-Id": None}, {}, "BAD_REQUEST"),
        ({"X-Reference-Id": "order-42"}, {}, "BAD_REQUEST"),
        ({"X-Target-Environment": None}, {}, "BAD_REQUEST"),
        ({"X-Callback-Url": "not a url"}, {}, "INVALID_CALLBACK_URL_HOST"),
    ],
)
async def test_bad_inputs_answer_400(
    http: httpx.AsyncClient, token: str, header_change: dict[str, str | None], body_change: dict[str, Any], code: str
) -> None:
    headers: dict[str, str] = {**auth(token), "X-Reference-Id": str(uuid.uuid4())}
    for name, value in header_change.items():
        headers.pop(name, None)
        if value is not None:
            headers[name] = value
    response = await http.post("/collection/v1_0/requesttopay", headers=headers, json=pay_body(**body_change))
    assert response.status_code == 400
    assert response.json()["code"] == code


async def test_unknown_reference_answers_404(http: httpx.AsyncClient, token: str) -> None:
    reference, _ = await request_to_pay(http, token)
    response = await http.get(f"/collection/v1_0/requesttopay/{uuid.uuid4()}", headers=auth(token))
    assert (response.status_code, response.json()["code"]) == (404, "RESOURCE_NOT_FOUND")
    other_env = {**auth(token), "X-Target-Environment": "sandbox"}
    response = await http.get(f"/collection/v1_0/requesttopay/{reference}", headers=other_env)
    assert response.status_code == 404


async def test_account_holder_and_sandbox_provisioning(http: httpx.AsyncClient, token: str) -> None:
    url = "/collection/v1_0/accountholder/msisdn/{}/active"
    assert (await http.get(url.format(ORDINARY), headers=auth(token))).json() == {"result": True}
    assert (await http.get(url.format("46733123455"), headers=auth(token))).json() == {"result": False}

    user = str(uuid.uuid4())
    headers = {**SUBSCRIPTION, "X-Reference-Id": user}
    created = await http.post("/v1_0/apiuser", headers=headers, json={"providerCallbackHost": "example.org"})
    assert (created.status_code, created.content) == (201, b"")
    assert (await http.post("/v1_0/apiuser", headers=headers, json={"providerCallbackHost": "x"})).status_code == 409
    key = await http.post(f"/v1_0/apiuser/{user}/apikey", headers=SUBSCRIPTION)
    assert key.status_code == 201 and key.json()["apiKey"]
    response = await http.post("/collection/token/", auth=(user, key.json()["apiKey"]), headers=SUBSCRIPTION)
    assert response.status_code == 200
