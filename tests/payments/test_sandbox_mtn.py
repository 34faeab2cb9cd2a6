"""The MTN MoMo sandbox over real HTTP, driven with httpx as a client would: tokens, request to pay, status
transitions per magic number, callbacks (PUT, duplicated, dropped), 5xx bursts, 401s, bad inputs; plus the
shared control logic as plain functions."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import test_utils

from payments.sandbox.control import (
    CONTROL_UPDATE,
    DISPATCHER,
    Delay,
    SandboxControl,
    TokenCheck,
    TokenStore,
    apply_update,
    basic_credentials,
    bearer_token,
    due_time,
)
from payments.sandbox.mtn import create_mtn_sandbox, plan_for
from tests.payments import Receiver, poll

SUBSCRIPTION = {"Ocp-Apim-Subscription-Key": "subscription-key"}
ENV = {"X-Target-Environment": "mtncameroon"}
ORDINARY = "237670000001"


@pytest.fixture
async def http(sandbox: test_utils.TestServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=str(sandbox.make_url("/mtn")), timeout=5) as client:
        yield client


@pytest.fixture
async def token(http: httpx.AsyncClient) -> str:
    return await get_token(http)


async def get_token(http: httpx.AsyncClient) -> str:
    response = await http.post("/collection/token/", auth=("api-user", "api-key"), headers=SUBSCRIPTION)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **SUBSCRIPTION, **ENV}


def pay_body(party: str = ORDINARY, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": "500",
        "currency": "XAF",
        "externalId": "order-42",
        "payer": {"partyIdType": "MSISDN", "partyId": party},
        "payerMessage": "Vote for candidate 07",
        "payeeNote": "Demo Star 2026",
    }
    body.update(changes)
    return body


async def request_to_pay(
    http: httpx.AsyncClient, token: str, party: str = ORDINARY, callback: str | None = None, reference: str = ""
) -> tuple[str, httpx.Response]:
    reference = reference or str(uuid.uuid4())
    headers = {**auth(token), "X-Reference-Id": reference}
    if callback is not None:
        headers["X-Callback-Url"] = callback
    return reference, await http.post("/collection/v1_0/requesttopay", headers=headers, json=pay_body(party))


async def status(http: httpx.AsyncClient, token: str, reference: str) -> dict[str, Any]:
    response = await http.get(f"/collection/v1_0/requesttopay/{reference}", headers=auth(token))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def final_status(http: httpx.AsyncClient, token: str, reference: str, timeout: float = 3.0) -> dict[str, Any]:
    return await poll(lambda: status(http, token, reference), lambda body: body["status"] != "PENDING", timeout)


# --- tokens --------------------------------------------------------------------------------------------------


async def test_token_is_issued_for_basic_credentials(http: httpx.AsyncClient) -> None:
    response = await http.post("/collection/token/", auth=("api-user", "api-key"), headers=SUBSCRIPTION)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "access_token"
    assert body["expires_in"] == 3600
    assert isinstance(body["access_token"], str) and body["access_token"]


@pytest.mark.parametrize("credentials", [None, ("api-user", ""), ("", "api-key")])
async def test_bad_credentials_answer_500_login_failed(
    http: httpx.AsyncClient, credentials: tuple[str, str] | None
) -> None:
    response = await http.post("/collection/token/", auth=credentials, headers=SUBSCRIPTION)
    assert (response.status_code, response.json()) == (500, {"error": "login_failed"})


async def test_control_can_reject_every_login(http: httpx.AsyncClient, control: SandboxControl) -> None:
    control.reject_credentials = True
    response = await http.post("/collection/token/", auth=("api-user", "api-key"), headers=SUBSCRIPTION)
    assert (response.status_code, response.json()) == (500, {"error": "login_failed"})


async def test_missing_subscription_key_answers_401(http: httpx.AsyncClient, token: str) -> None:
    response = await http.post("/collection/token/", auth=("api-user", "api-key"))
    assert response.status_code == 401
    headers = {"Authorization": f"Bearer {token}", **ENV, "X-Reference-Id": str(uuid.uuid4())}
    response = await http.post("/collection/v1_0/requesttopay", headers=headers, json=pay_body())
    assert response.status_code == 401 and "subscription key" in response.json()["message"]


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token-we-issued", "Basic YTpi"])
async def test_unknown_token_answers_401(http: httpx.AsyncClient, authorization: str | None) -> None:
    headers = {**SUBSCRIPTION, **ENV}
    if authorization:
        headers["Authorization"] = authorization
    response = await http.get(f"/collection/v1_0/requesttopay/{uuid.uuid4()}", headers=headers)
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message"}


async def test_expired_tokens_answer_401_until_a_new_one_is_fetched(http: httpx.AsyncClient, token: str) -> None:
    reference, response = await request_to_pay(http, token)
    assert response.status_code == 202
    assert (await http.post("/_control", json={"expire_tokens": True})).status_code == 200

    response = await http.get(f"/collection/v1_0/requesttopay/{reference}", headers=auth(token))
    assert response.status_code == 401
    assert (await request_to_pay(http, token))[1].status_code == 401

    fresh = await get_token(http)
    assert (await status(http, fresh, reference))["externalId"] == "order-42"


async def test_tokens_expire_after_their_lifetime(http: httpx.AsyncClient, control: SandboxControl) -> None:
    control.token_lifetime = 0.3
    response = await http.post("/collection/token/", auth=("api-user", "api-key"), headers=SUBSCRIPTION)
    assert response.json()["expires_in"] == 1
    token = response.json()["access_token"]
    url = f"/collection/v1_0/requesttopay/{uuid.uuid4()}"
    assert (await http.get(url, headers=auth(token))).status_code == 404
    await poll(lambda: http.get(url, headers=auth(token)), lambda r: r.status_code == 401, timeout=2)


# --- request to pay ------------------------------------------------------------------------------------------


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
    second = int(time.time())
    answers = [await http.get(f"/collection/v1_0/requesttopay/{reference}", headers=auth(token)) for _ in range(6)]
    if int(time.time()) != second:  # the burst straddled a second: the count started over, try once more
        answers = [await http.get(f"/collection/v1_0/requesttopay/{reference}", headers=auth(token))
                   for _ in range(6)]
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


# --- the control endpoint, the index, shutdown ---------------------------------------------------------------


async def test_control_endpoint_reads_and_changes_the_shared_switches(sandbox: test_utils.TestServer) -> None:
    async with httpx.AsyncClient(base_url=str(sandbox.make_url("")), timeout=5) as root:
        snapshot = (await root.get("/mtn/_control")).json()
        assert snapshot["success_delay"] == 0.05 and snapshot["callback_method"] == "PUT"
        changed = await root.post("/mtn/_control", json={"duplicate_callbacks": 2, "webpay_auto_outcome": "FAILED"})
        assert changed.status_code == 200
        for path in ("/_control", "/orange/_control"):
            body = (await root.get(path)).json()
            assert (body["duplicate_callbacks"], body["webpay_auto_outcome"]) == (2, "FAILED")
        reset = (await root.post("/_control", json={"reset": True})).json()
        assert (reset["duplicate_callbacks"], reset["success_delay"]) == (1, 1.0)


@pytest.mark.parametrize(
    "payload",
    [b'{"fail_next": -1}', b'{"callback_method": "PATCH"}', b'{"bogus": 1}', b'{"success_delay": null}', b"nope", b""],
)
async def test_control_endpoint_rejects_bad_input(http: httpx.AsyncClient, payload: bytes) -> None:
    response = await http.post("/_control", content=payload, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_control"
    assert (await http.get("/_control")).json()["fail_next"] == 0


async def test_index_describes_base_urls_and_magic_numbers(sandbox: test_utils.TestServer) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        body = (await client.get(str(sandbox.make_url("/")))).json()
    assert body["mtn"]["base_url"] == str(sandbox.make_url("/mtn"))
    assert body["mtn"]["magic_numbers (partyId, last three digits)"]["ending 453"].startswith("stays PENDING")
    assert body["orange"]["mp"].endswith("/orange/omcoreapis/1.0.2/mp")


async def test_standalone_app_cancels_pending_callbacks_on_shutdown(receiver: Receiver) -> None:
    control = SandboxControl(long_delay=30)
    app = create_mtn_sandbox(control)
    async with test_utils.TestServer(app) as server, httpx.AsyncClient(base_url=str(server.make_url(""))) as client:
        token = await get_token(client)
        _, response = await request_to_pay(client, token, "46733123454", callback=receiver.url("/late"))
        assert response.status_code == 202
        assert app[DISPATCHER].pending == 1
    assert app[DISPATCHER].pending == 0
    assert receiver.received == []


# --- pure logic ----------------------------------------------------------------------------------------------


def test_plan_for_compares_the_last_three_digits() -> None:
    assert plan_for("46733123453").delay is Delay.NEVER
    assert plan_for("237690000454").delay is Delay.LONG
    assert (plan_for("46733123455").status, plan_for("46733123455").reason) == ("FAILED", "PAYER_NOT_FOUND")
    assert plan_for("46733123449").status == "SUCCESSFUL"


def test_due_time_follows_the_control() -> None:
    control = SandboxControl(success_delay=2, long_delay=9)
    assert (due_time(Delay.SHORT, 100, control), due_time(Delay.LONG, 100, control)) == (102, 109)
    assert due_time(Delay.NEVER, 100, control) is None


def test_token_store_checks_expiry_and_generation() -> None:
    store = TokenStore()
    token = store.issue(now=10, lifetime=5, generation=0)
    assert store.check(token, now=14, generation=0) is TokenCheck.VALID
    assert store.check(token, now=15, generation=0) is TokenCheck.EXPIRED
    assert store.check(token, now=11, generation=1) is TokenCheck.EXPIRED
    assert store.check("forged", now=11, generation=0) is TokenCheck.UNKNOWN
    assert store.check(None, now=11, generation=0) is TokenCheck.MISSING


def test_fail_next_is_consumed_one_request_at_a_time() -> None:
    control = SandboxControl(fail_next=2)
    assert [control.take_failure() for _ in range(3)] == [True, True, False]


def test_apply_update_runs_actions_then_fields() -> None:
    control = SandboxControl(success_delay=3)
    apply_update(control, CONTROL_UPDATE.validate_python({"reset": True, "expire_tokens": True, "fail_next": 4}))
    assert (control.success_delay, control.token_generation, control.fail_next) == (1.0, 1, 4)


def test_header_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("Basic abc") is None
    assert basic_credentials("Basic dXNlcjprZXk=") == ("user", "key")
    assert basic_credentials("Basic dXNlcjo=") is None  # "user:" has an empty key
    assert basic_credentials("Basic !!!") is None
