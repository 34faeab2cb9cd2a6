"""What the reconciler found paid, on /metrics: the figure `ProviderCallbacksLost` (deploy/prometheus/rules.yml)
sets beside the orders paid to tell that a provider's callbacks no longer reach us. Through the running app and
the reconciler's job as the worker runs it, with MTN faked at the wire."""

from __future__ import annotations

import asyncio
import re

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from sqlalchemy import text

from assembly.settings import Settings
from assembly.web.keys import STARTS
from assembly.web.metrics import Metrics
from assembly.worker.job_runtime import JobContext
from assembly.worker.worker_jobs import reconcile_pass
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus
from gateway.kit.keys import PROVIDERS
from tests.factories import make_contest, place
from tests.fakes.mtn import FakeMtn, callback, paid_body, reference_of, vote


def found_paid(exposition: str) -> dict[str, float]:
    found = re.findall(r'^gateway_reconciler_found_paid\{provider="(\w+)"\} (\S+)$', exposition, re.MULTILINE)
    return {provider: float(value) for provider, value in found}


async def test_orders_whose_callback_never_came_are_shown_as_found_by_the_reconciler(
    client: TestClient, sessions: Sessions, redis: Redis, settings: Settings, fake_mtn: FakeMtn
) -> None:
    await make_contest(sessions, slug="gala")
    called_back = await vote(client, "gala", quantity=1, msisdn="+237670000011")
    lost = [await vote(client, "gala", quantity=2, msisdn=f"+23767000002{i}") for i in range(2)]
    assert await callback(client, called_back, paid_body(await tables.get_order(sessions, called_back))) == 200
    for order_id in lost:  # paid at MTN, its callback lost
        fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    async with sessions.begin() as session:  # the reconciler looks at an order 30 s after it was placed
        await session.execute(text("UPDATE vote_orders SET created_at = now() - interval '31 seconds'"))
    assert found_paid(await (await client.get("/metrics")).text()) == {}

    await reconcile_pass(JobContext(settings, sessions, redis, client.app[PROVIDERS]))

    assert {(await tables.get_order(sessions, order_id)).status for order_id in lost} == {OrderStatus.PAID}
    # One figure in Redis, whichever web process is scraped; the callback-counted order is not in it.
    assert found_paid(await (await client.get("/metrics")).text()) == {"mtn": 2}
    await reconcile_pass(JobContext(settings, sessions, redis, client.app[PROVIDERS]))  # nothing more to find
    assert found_paid(await (await client.get("/metrics")).text()) == {"mtn": 2}


def test_with_redis_away_the_figure_is_missing_rather_than_stale() -> None:
    metrics = Metrics()
    metrics.note_found_paid({"mtn": 3})
    assert found_paid(metrics.render().decode()) == {"mtn": 3}
    metrics.note_found_paid(None)
    assert found_paid(metrics.render().decode()) == {}


async def test_the_figure_rises_while_a_long_pass_is_still_finding(
    client: TestClient, sessions: Sessions, redis: Redis, settings: Settings, fake_mtn: FakeMtn
) -> None:
    """A pass through a backlog lasts minutes at MTN's cap: the figure moves as the orders are found, not in one step
    at the pass's end, or `ProviderCallbacksLost` would see nothing for minutes and then everything at once."""
    contest = await make_contest(sessions, slug="gala")
    for n in range(30):  # 3 s of MTN's turns
        order_id = (await place(sessions, contest, msisdn=f"+2376700030{n:02}")).id
        client.app[STARTS].request(order_id)
        await client.app[STARTS].wait_idle()
        fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    async with sessions.begin() as session:
        await session.execute(text("UPDATE vote_orders SET created_at = now() - interval '31 seconds'"))
    passing = asyncio.create_task(reconcile_pass(JobContext(settings, sessions, redis, client.app[PROVIDERS])))

    async def shown() -> float:
        return found_paid(await (await client.get("/metrics")).text()).get("mtn", 0.0)

    while not await shown() and not passing.done():
        await asyncio.sleep(0.05)
    assert not passing.done()  # found, shown, and the pass still going
    await passing
    assert await shown() == 30
