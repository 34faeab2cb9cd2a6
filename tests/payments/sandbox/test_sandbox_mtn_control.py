"""The sandbox's control endpoint (its switches shared by MTN and Orange), its index and the standalone MTN app's
shutdown, over real HTTP; plus the shared control logic as plain functions."""

from __future__ import annotations

import httpx
import pytest
from aiohttp import test_utils

from payments.sandbox.control import CONTROL_UPDATE, DISPATCHER, Delay, SandboxControl, apply_update, due_time
from payments.sandbox.mtn import create_mtn_sandbox, plan_for
from payments.sandbox.tokens import TokenCheck, TokenStore, basic_credentials, bearer_token
from tests.payments import Receiver
from tests.payments.sandbox.mtn_sandbox import get_token, request_to_pay

SANDBOX = "/mtn"  # where the `http` fixture (conftest.py) sends its requests


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
