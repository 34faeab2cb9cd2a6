"""A WebPay token from the Orange Money sandbox, for the test_sandbox_orange_* modules: WebPay's requests carry it,
and the USSD-push API refuses it."""

from __future__ import annotations

import httpx


async def webpay_token(http: httpx.AsyncClient) -> str:
    form = {"grant_type": "client_credentials"}
    response = await http.post("/oauth/v3/token", auth=("client-id", "client-secret"), data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])
