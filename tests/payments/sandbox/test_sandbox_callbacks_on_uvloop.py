"""The sandboxes' callbacks carry the outcome they were due with on any event loop, uvloop's too (the service's own),
whose timers may fire before its clock reaches their time."""

from __future__ import annotations

import asyncio

import httpx
import uvloop
from aiohttp.test_utils import TestServer

from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.payments import Receiver
from tests.payments.sandbox.mtn_sandbox import final_status, get_token, request_to_pay

FAILED_PAYERS = ("46733123450", "46733123452")  # MTN's sandbox numbers that fail: INTERNAL_PROCESSING_ERROR, EXPIRED


async def callbacks_of_failed_payments(count: int) -> list[tuple[str, str]]:
    """Request `count` payments that fail, each a few milliseconds apart; (status polled, status called back)."""
    async with TestServer(create_sandbox_app(SandboxControl(success_delay=0.05))) as sandbox, \
            httpx.AsyncClient(base_url=str(sandbox.make_url("/mtn")), timeout=5) as http:
        receiver = Receiver()
        await receiver.server.start_server()
        try:
            token = await get_token(http)
            asked = []
            for n in range(count):
                party = FAILED_PAYERS[n % 2]
                reference, _ = await request_to_pay(http, token, party, callback=receiver.url(f"/momo/{n}"))
                asked.append(reference)
                await asyncio.sleep(0.0013 * (n % 7))
            polled = [(await final_status(http, token, reference))["status"] for reference in asked]
            called = [(await receiver.wait_for(f"/momo/{n}"))[0].body["status"] for n in range(count)]
            return list(zip(polled, called, strict=True))
        finally:
            await receiver.server.close()


def test_a_failed_payments_callback_says_failed_on_uvloop() -> None:
    outcomes = uvloop.run(callbacks_of_failed_payments(30))
    assert outcomes == [("FAILED", "FAILED")] * 30
