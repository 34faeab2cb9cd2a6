"""Orange's cap on an application's requests, end to end: the core starting and checking Orange orders through the
providers as the service builds them, against the Orange sandbox keeping Orange's 25 a second (403, code 53 past
it), over real localhost HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler
from redis.asyncio import Redis

from assembly.resources.providers import build_providers
from assembly.settings import Settings
from gateway.core.money_in.checking import check_payment
from gateway.core.money_in.starting import start_payment
from gateway.core.orders import tables
from gateway.core.orders.outcomes import Outcome
from gateway.core.providers import PaymentError
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus
from payments.registry import ProviderRegistry
from payments.sandbox.control import SandboxControl
from payments.sandbox.orange import create_orange_sandbox
from tests.factories import make_contest, place
from tests.payments.capped_gateway import most_in_any_second


@dataclass
class Seen:
    """The requests the sandbox answered: when, and with which status."""

    answers: list[tuple[float, int]] = field(default_factory=list)

    def most_in_any_second(self) -> int:
        return most_in_any_second(at for at, _ in self.answers)


@dataclass
class Orange:
    registry: ProviderRegistry
    control: SandboxControl
    seen: Seen
    contest: Contest
    url: str


@pytest.fixture
async def orange(clean: None, settings: Settings, sessions: Sessions, redis: Redis) -> AsyncIterator[Orange]:
    control = SandboxControl(success_delay=0.05, orange_requests_per_second=25)  # as Orange's gateway
    seen = Seen()

    @web.middleware
    async def noting(request: web.Request, handler: Handler) -> web.StreamResponse:
        arrived = time.monotonic()  # as Orange's gateway counts: when a request comes, not when it is answered
        response = await handler(request)
        seen.answers.append((arrived, response.status))
        return response

    providers = web.Application(middlewares=[noting])
    providers.add_subapp("/orange", create_orange_sandbox(control))
    async with TestServer(providers) as sandbox, httpx.AsyncClient(timeout=10) as http:
        url = str(sandbox.make_url("")).rstrip("/")
        registry = build_providers(settings.model_copy(update={"sandbox_url": url}), http, redis=redis)
        yield Orange(registry, control, seen, await make_contest(sessions), url)
        await registry.aclose()


async def test_a_burst_of_orange_votes_is_paced_under_oranges_cap_and_every_one_gets_its_page(
        orange: Orange, sessions: Sessions) -> None:
    orders = [await place(sessions, orange.contest, provider="orange", msisdn=f"+2376900001{n:02d}")
              for n in range(40)]
    started = await asyncio.gather(*(start_payment(sessions, orange.registry, order.id) for order in orders))
    assert all(outcome is not None and outcome.redirect_url for outcome in started)
    assert [status for _, status in orange.seen.answers if status == 403] == []  # never over Orange's cap
    assert orange.seen.most_in_any_second() <= 25
    assert len(orange.seen.answers) == 41  # a token, then a page each: offered at once, they took two seconds
    for order in orders:
        assert (await tables.get_order(sessions, order.id)).status is OrderStatus.PENDING


async def test_a_status_check_orange_answers_403_code_53_leaves_the_order_pending_until_a_later_check_confirms_it(
        orange: Orange, sessions: Sessions) -> None:
    order = await place(sessions, orange.contest, provider="orange", msisdn="+237690000001")
    await start_payment(sessions, orange.registry, order.id)
    [page] = (await tables.get_order(sessions, order.id)).provider_data["pages"]
    async with httpx.AsyncClient() as payer:
        paid = await payer.post(f"{orange.url}/orange/webpay/pay/{page['pay_token']}", data={"decision": "pay"})
        assert paid.status_code < 400
    orange.control.throttle_share = 1.0  # Orange's gateway refuses every request: over the application's rate
    with pytest.raises(PaymentError) as caught:
        await check_payment(sessions, orange.registry, order.id)
    assert caught.value.retryable and caught.value.status == 403
    assert (await tables.get_order(sessions, order.id)).status is OrderStatus.PENDING  # slowed down, not refused
    orange.control.throttle_share = 0.0
    assert await check_payment(sessions, orange.registry, order.id) is Outcome.COUNTED
    assert (await tables.get_order(sessions, order.id)).status is OrderStatus.PAID
