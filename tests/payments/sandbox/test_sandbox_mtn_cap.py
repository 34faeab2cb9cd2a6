"""The MTN sandbox keeps MTN's cap on status GETs per account (API user), 10 a second from the
command line, and has a payer number whose status GET disagrees with its callback (a reversal to test)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from payments.sandbox.__main__ import parse_args
from payments.sandbox.control import SandboxControl
from tests.payments import Receiver
from tests.payments.sandbox.mtn_sandbox import SUBSCRIPTION, auth, final_status, request_to_pay

SANDBOX = "/mtn"  # where the `http` fixture (conftest.py) sends its requests




async def token_of(http: httpx.AsyncClient, api_user: str) -> str:
    response = await http.post("/collection/token/", auth=(api_user, "api-key"), headers=SUBSCRIPTION)
    return str(response.json()["access_token"])


async def test_the_cap_counts_each_api_users_status_calls_apart(http: httpx.AsyncClient,
                                                                control: SandboxControl) -> None:
    control.status_calls_per_second = 10
    ours, theirs = await token_of(http, "our-api-user"), await token_of(http, "another-api-user")
    reference, _ = await request_to_pay(http, ours)
    clock = asyncio.get_running_loop()  # the sandbox's clock (payments.sandbox.control.loop_time): it runs here
    # Each burst from the top of one of its seconds; one that straddles two (a machine busy with other work) says
    # nothing of one second's cap: try again, and judge only a burst that fit in one.
    for _ in range(30):
        await asyncio.sleep(1 - clock.time() % 1)
        second = int(clock.time())
        codes = [(await http.get(f"/collection/v1_0/requesttopay/{reference}", headers=auth(ours))).status_code
                 for _ in range(11)]
        other = (await http.get(f"/collection/v1_0/requesttopay/{reference}", headers=auth(theirs))).status_code
        if int(clock.time()) == second:
            break
    else:
        pytest.fail("no burst of 12 status calls fit in one of the sandbox's seconds in 30 tries")
    assert codes == [200] * 10 + [429]  # the 11th in a second
    assert other == 200  # another account has its own 10


def test_the_command_line_sandbox_keeps_mtns_cap_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_args([]).status_calls_per_second == 10
    assert parse_args(["--status-calls-per-second", "0"]).status_calls_per_second == 0
    monkeypatch.setenv("SANDBOX_MTN_STATUS_CALLS_PER_SECOND", "25")
    assert parse_args([]).status_calls_per_second == 25


async def test_a_payer_ending_457_is_successful_in_the_callback_and_failed_to_status_gets(
        http: httpx.AsyncClient, receiver: Receiver) -> None:
    token = await token_of(http, "api-user")
    reference, _ = await request_to_pay(http, token, "237670000457", callback=receiver.url("/cb/457"))
    [callback] = await receiver.wait_for("/cb/457")
    assert callback.body["status"] == "SUCCESSFUL" and "financialTransactionId" in callback.body
    asked = await final_status(http, token, reference)
    assert asked["status"] == "FAILED" and asked["reason"] == "INTERNAL_PROCESSING_ERROR"
    assert "financialTransactionId" not in asked
    assert (asked["amount"], asked["currency"]) == (callback.body["amount"], callback.body["currency"])
