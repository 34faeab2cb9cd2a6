"""The Orange sandbox keeps Orange's cap on an application's requests: 25 a second from the command line, counted
across every API of the application together (token, WebPay, the push), answered past it as Orange's gateway does
(403, code 53)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from payments.sandbox.__main__ import parse_args
from payments.sandbox.control import SandboxControl

SANDBOX = "/orange"  # where the `http` fixture (conftest.py) sends its requests
FORM = {"grant_type": "client_credentials"}


async def token_of(http: httpx.AsyncClient, client_id: str) -> str:
    response = await http.post("/oauth/v3/token", auth=(client_id, "secret"), data=FORM)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def status_call(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post("/orange-money-webpay/dev/v1/transactionstatus", json={
        "order_id": "unknown", "amount": 500.0, "pay_token": "unknown"}, headers={"Authorization": f"Bearer {token}"})


async def test_past_its_cap_an_application_is_answered_403_code_53_whichever_api_it_calls(
        http: httpx.AsyncClient, control: SandboxControl) -> None:
    ours, theirs = await token_of(http, "our-app"), await token_of(http, "their-app")
    control.orange_requests_per_second = 5
    clock = asyncio.get_running_loop()  # the sandbox's clock (payments.sandbox.control.loop_time): it runs here
    for _ in range(3):  # each burst from the top of one of the sandbox's seconds; one that straddles two: try again
        await asyncio.sleep(1 - clock.time() % 1)
        second = int(clock.time())
        answers = [await status_call(http, ours) for _ in range(3)]
        answers.append(await http.post("/oauth/v3/token", auth=("our-app", "secret"), data=FORM))  # another API
        answers += [await status_call(http, ours) for _ in range(2)]
        other = await status_call(http, theirs)
        if int(clock.time()) == second:
            break
    assert all(answer.status_code != 403 for answer in answers[:5])  # five of the application's: within its cap
    refused = answers[5]
    assert refused.status_code == 403
    assert refused.json() == {"code": 53, "message": "Too many requests", "description": refused.json()["description"]}
    assert other.status_code != 403  # another application has its own 5


async def test_a_cap_set_at_run_time_is_taken_and_lifted(http: httpx.AsyncClient) -> None:
    changed = await http.post("/_control", json={"orange_requests_per_second": 25})
    assert changed.json()["orange_requests_per_second"] == 25
    assert (await http.post("/_control", json={"orange_requests_per_second": 0})).status_code == 400  # null lifts it
    lifted = await http.post("/_control", json={"orange_requests_per_second": None})
    assert lifted.json()["orange_requests_per_second"] is None


def test_the_command_line_sandbox_keeps_oranges_cap_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_args([]).orange_requests_per_second == 25
    assert parse_args(["--orange-requests-per-second", "0"]).orange_requests_per_second == 0
    monkeypatch.setenv("SANDBOX_ORANGE_REQUESTS_PER_SECOND", "40")
    assert parse_args([]).orange_requests_per_second == 40
