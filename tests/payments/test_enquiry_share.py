"""Status enquiries take at most their share of a provider's paced schedule: however many are queued (a flood of
callbacks each asking for one, the reconciler's polling), a payer's prompt leaves within its usual time. Measured at a
fake Airtel (respx): when the push reached it, against when the prompt was asked for."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import httpx
import respx
from redis.asyncio import Redis

from gateway.core.providers import Collection
from gateway.kit.paced_turns import PacedTurns
from payments.airtel.api import AirtelApi, AirtelCredentials
from payments.airtel.collection import AirtelCollection
from tests.payments.ussd_orders import ussd_collection

BASE = "https://openapi.airtel.test"
TOKEN = {"access_token": "tok-1", "expires_in": "7200", "token_type": "bearer"}
PENDING = {"data": {"transaction": {"id": "x", "status": "TIP", "airtel_money_id": "MP1"}},
           "status": {"code": "200", "message": "x", "response_code": "DP00800001006", "success": True}}
PUSHED = {"data": {"transaction": {"id": "x", "status": "Success."}},
          "status": {"code": "200", "message": "In process", "response_code": "DP00800001006", "success": True}}
QUEUED_ENQUIRIES = 60  # the orders one voter held pending: each of their callbacks kept an enquiry going
PROMPT_BOUND = 1.5  # seconds: a prompt leaves a turn or two after it is asked (0.1 s at rest); 6-7 s behind the flood


def collection() -> Collection:
    return ussd_collection({}, amount=2500, currency="UGX", msisdn="+256700000001")


class FakeAirtel:
    """Airtel's token, push and enquiry, noting when each push and enquiry came."""

    def __init__(self, wire: respx.MockRouter) -> None:
        self.pushed: list[float] = []
        self.enquired: list[float] = []
        wire.post(f"{BASE}/auth/oauth2/token").respond(200, json=TOKEN)
        wire.post(f"{BASE}/merchant/v1/payments/").mock(side_effect=self.answer(self.pushed, PUSHED))
        wire.get(url__regex=rf"{BASE}/standard/v1/payments/.*").mock(side_effect=self.answer(self.enquired, PENDING))

    @staticmethod
    def answer(seen: list[float], body: dict[str, object]) -> Callable[[httpx.Request], httpx.Response]:
        def respond(request: httpx.Request) -> httpx.Response:
            seen.append(time.monotonic())
            return httpx.Response(200, json=body)
        return respond


async def until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait for `condition()` (generous: a loaded machine)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_a_prompt_leaves_in_its_usual_time_behind_a_flood_of_status_enquiries(redis: Redis) -> None:
    with respx.mock(assert_all_called=False) as wire:
        airtel = FakeAirtel(wire)
        async with httpx.AsyncClient() as http:
            api = AirtelApi(http, AirtelCredentials(BASE, f"client-{uuid.uuid4().hex}", "secret-1"),
                            turns=PacedTurns(redis), per_second=10.0)
            provider = AirtelCollection(api)
            await provider.start(collection())  # the application's token, held from now on
            enquiries = [asyncio.create_task(provider.fetch_status(collection())) for _ in range(QUEUED_ENQUIRIES)]
            await until(lambda: len(airtel.enquired) >= 3)  # every enquiry has asked for its turn by now
            asked = time.monotonic()
            prompt = asyncio.create_task(provider.start(collection()))
            await until(lambda: len(airtel.pushed) == 2)
            late = airtel.pushed[-1] - asked
            await prompt
            for task in enquiries:
                task.cancel()
            await asyncio.gather(*enquiries, return_exceptions=True)
    assert late < PROMPT_BOUND, f"the prompt left {late:.2f} s after it was asked"
    assert len(airtel.enquired) < QUEUED_ENQUIRIES  # the flood was still queued when the prompt went
