"""Liveness, readiness and metrics: what a load balancer and Prometheus see."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import votes
from gateway.app import create_app
from gateway.config import Settings
from tests.factories import make_contest, place

Sessions = async_sessionmaker[AsyncSession]


async def test_healthz_and_readyz_answer_ok(client: TestClient) -> None:
    assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"postgres": "ok", "redis": "ok"}


async def test_readyz_is_503_naming_redis_when_redis_is_down(settings: Settings, tmp_path: object) -> None:
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with TestClient(TestServer(create_app(broken))) as client:
        response = await client.get("/readyz")
        assert response.status == 503
        assert (await response.json())["checks"] == {"postgres": "ok", "redis": "unavailable"}


async def test_metrics_count_orders_by_status_and_requests(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    paid = await place(sessions, contest, quantity=2)
    await place(sessions, contest)
    await votes.confirm_payment(sessions, paid.id, "SUCCESSFUL", 200, "XAF", "t")
    await client.get("/api/v1/contests")
    text = await (await client.get("/metrics")).text()
    assert 'gateway_orders{status="paid"} 1.0' in text
    assert 'gateway_orders{status="pending"} 1.0' in text
    assert 'gateway_http_requests_total{method="GET",route="/api/v1/contests",status="200"} 1.0' in text
    assert 'gateway_queue_depth{queue="default"}' in text
