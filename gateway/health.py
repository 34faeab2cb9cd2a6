"""Liveness, readiness and metrics routes."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy import text

from gateway.keys import CHECKS, METRICS, REDIS, SESSIONS, STARTS
from gateway.metrics import CONTENT_TYPE
from gateway.queues import QUEUE_NAMES

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready when PostgreSQL answers within two seconds. Redis away is "degraded", still ready:
    votes go on without it (see `gateway.throttle`, `leaderboard.boards`), and a load balancer
    that dropped every web process while Redis restarts would stop the show."""
    checks: dict[str, str] = {}

    async def database() -> None:
        async with request.app[SESSIONS]() as session:
            await session.execute(text("SELECT 1"))

    async def redis() -> None:
        await request.app[REDIS].ping()

    for name, probe in (("postgres", database), ("redis", redis)):
        try:
            await asyncio.wait_for(probe(), timeout=2)
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready; say which
            log.warning("readiness: %s unavailable: %s", name, exc)
            checks[name] = "unavailable"
    ready = checks["postgres"] == "ok"
    status = "unavailable" if not ready else "ready" if checks["redis"] == "ok" else "degraded"
    return web.json_response({"status": status, "checks": checks}, status=200 if ready else 503)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    redis = request.app[REDIS]
    try:
        depths = {name: int(await redis.llen(f"rq:queue:{name}")) for name in QUEUE_NAMES}
    except RedisError as exc:  # the rest of the figures still matter while Redis is away
        log.warning("metrics: queue depths unknown, Redis is unavailable: %r", exc)
        depths = {}
    registry = request.app[METRICS]
    await registry.refresh(request.app[SESSIONS], depths)
    registry.note_payment_work(request.app[STARTS].in_flight, request.app[CHECKS].in_flight)
    return web.Response(body=registry.render(), headers={"Content-Type": CONTENT_TYPE})


def setup(app: web.Application) -> None:
    app.add_routes(routes)
