"""A callback that is not vouched for (Airtel's without AIRTEL_MONEY_CALLBACK_KEY) is a bounded trigger: however many
name an order (every voter knows their own order's id), the order gets one enquiry an interval, one row is kept,
and the address's repeats past its limit are answered 429. Over real localhost HTTP: our app and the Airtel sandbox
as a live Airtel (its own credentials set, so callbacks carry no hash we check), its enquiries counted at its door."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import func, select

from assembly.settings import Settings
from assembly.web.keys import STARTS
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus, ProviderEvent
from gateway.kit.callback_checks import CHECK_INTERVAL, check_due
from gateway.kit.keys import CHECKS, REDIS, SESSIONS, SETTINGS
from gateway.kit.throttle import UNTIED_LIMIT
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.factories import make_contest
from tests.live_app import app_beside
from tests.servers import free_port, inside_one_window

FLOODED = UNTIED_LIMIT + 10
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Live:
    client: TestClient
    sessions: Sessions
    contest: Contest
    enquiries: list[str]  # the enquiries' paths, as they reached the sandbox

    async def vote(self, voter: int = 0) -> uuid.UUID:
        """An order of voter `voter`'s own (a number and address of theirs) whose payer never answers."""
        response = await self.client.post(f"/api/v1/contests/{self.contest.slug}/votes", json={
            "candidate": "07", "quantity": 1, "provider": "airtel", "msisdn": f"+2567000{voter:02d}453"},
            headers={"X-Forwarded-For": f"41.210.1.{voter + 1}"})
        assert response.status == 201, await response.text()
        await self.client.app[STARTS].wait_idle()
        return uuid.UUID((await response.json())["order"]["id"])

    async def callback(self, order_id: uuid.UUID) -> tuple[int, dict[str, dict[str, str]]]:
        """A callback saying the order was paid, with no hash: what anyone can send."""
        body = {"transaction": {"id": order_id.hex, "message": "Paid", "status_code": "TS",
                                "airtel_money_id": "MP1"}}
        response = await self.client.post("/payments/airtel/callback", data=json.dumps(body),
                                          headers={"Content-Type": "application/json"})
        return response.status, await response.json()

    async def rows(self) -> int:
        query = select(func.count()).select_from(ProviderEvent).where(ProviderEvent.provider == "airtel",
                                                                      ProviderEvent.kind.like("callback.%"))
        async with self.sessions() as session:
            return int(await session.scalar(query) or 0)


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[Live]:
    enquiries: list[str] = []

    @web.middleware
    async def count_enquiries(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "GET" and request.path.startswith("/airtel/standard/v1/payments/"):
            enquiries.append(request.path)
        return await handler(request)

    sandbox_app = create_sandbox_app(SandboxControl(success_delay=0.05))
    sandbox_app.middlewares.append(count_enquiries)
    async with TestServer(sandbox_app) as sandbox:
        live_airtel = settings.model_copy(update={  # the sandbox as Airtel's live system: no key set
            "sandbox_enabled": False, "airtel_money_base_url": str(sandbox.make_url("/airtel")),
            "airtel_money_client_id": "client-1", "airtel_money_client_secret": SecretStr("secret-1"),
            # Its 35 voters' prompts and enquiries not paced at the production cap's 9 a second (8 s): what these
            # show is the callbacks' limit and interval, which the pace does not change.
            "airtel_money_requests_per_second": 100.0})
        async with app_beside(sandbox, live_airtel) as client:
            contest = await make_contest(sessions, candidates=8, currency="UGX", price_per_vote=500,
                                         providers=["airtel"])
            yield Live(client, client.app[SESSIONS], contest, enquiries)


async def test_a_flood_of_callbacks_for_one_order_makes_one_row_one_enquiry_and_429_past_the_limit(
        live: Live) -> None:
    order_id = await live.vote()
    await inside_one_window()  # the address's limit counts a minute at a time
    began = time.monotonic()
    answers = [await live.callback(order_id) for _ in range(FLOODED)]
    intervals = 1 + int((time.monotonic() - began) // CHECK_INTERVAL)  # 1, unless the machine is very slow
    await live.client.app[CHECKS].wait_idle()
    # The first asks for the enquiry, as Airtel's own would; each repeat counts against the address's limit.
    assert [status for status, _ in answers] == [200] * (UNTIED_LIMIT + 1) + [429] * (FLOODED - UNTIED_LIMIT - 1)
    assert answers[-1][1]["error"]["code"] == "rate_limited"  # a JSON body, as every refusal
    assert 1 <= await live.rows() <= intervals  # no row per repeat
    assert live.enquiries[:1] == [f"/airtel/standard/v1/payments/{order_id.hex}"]
    assert len(live.enquiries) <= intervals  # one an interval
    assert (await tables.get_order(live.sessions, order_id)).status is OrderStatus.PENDING


async def test_a_repeat_within_the_interval_has_its_enquiry_once_the_interval_is_over(live: Live) -> None:
    """What a repeat says (Airtel sending its callback again, its first enquiry answered too early) is still
    followed by an enquiry made after it came: one, however many repeats, once the order's interval is over."""
    order_id = await live.vote()
    assert (await live.callback(order_id))[0] == 200
    while not live.enquiries:
        await asyncio.sleep(0.01)
    first = time.monotonic()
    assert [(await live.callback(order_id))[0] for _ in range(5)] == [200] * 5
    deadline = first + CHECK_INTERVAL + 60  # generous: a loaded machine
    while len(live.enquiries) < 2:
        assert time.monotonic() < deadline, "the repeats' enquiry never came"
        await asyncio.sleep(0.05)
    assert time.monotonic() - first >= CHECK_INTERVAL * 0.9  # not before the interval is over (Redis's clock)
    await live.client.app[CHECKS].wait_idle()
    assert live.enquiries == [f"/airtel/standard/v1/payments/{order_id.hex}"] * 2
    assert await live.rows() == 1


async def test_each_voters_first_callback_asks_for_its_enquiry_at_once(live: Live) -> None:
    """What a genuine Airtel sends, one callback an order, is never limited however many orders it is about."""
    orders = [await live.vote(voter) for voter in range(UNTIED_LIMIT + 5)]
    assert [(await live.callback(order_id))[0] for order_id in orders] == [200] * len(orders)
    await live.client.app[CHECKS].wait_idle()
    assert sorted(live.enquiries) == sorted(f"/airtel/standard/v1/payments/{o.hex}" for o in orders)
    assert await live.rows() == len(orders)


async def test_with_redis_away_every_callback_asks_for_its_check(settings: Settings) -> None:
    """Nothing to count with: a genuine callback must not be lost for a cache (each process's queue still runs one
    check an order at a time)."""
    app = web.Application()
    app[REDIS] = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    app[SETTINGS] = settings
    request = make_mocked_request("POST", "/payments/airtel/callback", app=app)
    try:
        assert [await check_due(request, "airtel", uuid.uuid4()) for _ in range(3)] == [True] * 3
    finally:
        await app[REDIS].aclose()
