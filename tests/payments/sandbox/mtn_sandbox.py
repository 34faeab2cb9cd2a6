"""What a client of the MTN MoMo sandbox sends, for the test_sandbox_mtn* modules: a token, a request to pay,
its status until decided."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.payments import poll

SUBSCRIPTION = {"Ocp-Apim-Subscription-Key": "subscription-key"}
ENV = {"X-Target-Environment": "mtncameroon"}
ORDINARY = "237670000001"


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
