"""The MTN MoMo sandbox's tokens over real HTTP, driven with httpx as a client would: issued for basic
credentials, refused for bad ones or at the control's say; 401s without a subscription key, for tokens it never
issued and for expired ones until a new one is fetched."""

from __future__ import annotations

import uuid

import httpx
import pytest

from payments.sandbox.control import SandboxControl
from tests.payments import poll
from tests.payments.sandbox.mtn_sandbox import ENV, SUBSCRIPTION, auth, get_token, pay_body, request_to_pay, status

SANDBOX = "/mtn"  # where the `http` fixture (conftest.py) sends its requests


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
