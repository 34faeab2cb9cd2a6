"""Liveness, readiness and metrics routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine

from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy import text

from admin.keys import WATCHED_PASSES
from assembly.settings import Settings
from assembly.web.keys import METRICS, METRICS_ACCESS, STARTED_AT, STARTS
from assembly.web.metrics import CONTENT_TYPE
from assembly.web.metrics_access import MetricsAccess
from gateway.core.money_in.found_paid import found_paid
from gateway.jobs.last_passes import pass_ages, reconciler_problem
from gateway.jobs.queues import QUEUE_NAMES
from gateway.kit.answers import error_body
from gateway.kit.keys import CHECKS, REDIS, SESSIONS, settings_of
from gateway.kit.time_limits import answer_within

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
PROBE_SECONDS = 2.0
REDIS_PROBE_SECONDS = 0.5  # Redis answers a PING in well under a millisecond where it can be reached at all
# /metrics' reads from Redis, all of them: a frozen Redis (stopped, or its host lost) takes connections and never
# answers, and the scrape must still bring PostgreSQL's figures and the news that Redis did not answer
# (`gateway_redis_up`), well inside Prometheus' 10 s for a scrape.
METRICS_REDIS_SECONDS = 1.0
# Database probes still running after their answer was given (see `readyz`); kept so they finish.
PROBES_UNDER_WAY = web.AppKey("probes_under_way", set[asyncio.Task[None]])


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready when PostgreSQL answers within two seconds. Redis away is "degraded", still ready:
    votes go on without it (see `gateway.kit.throttle`, `leaderboard.boards`), and a load balancer
    that dropped every web process while Redis restarts would stop the show. A reconciler that
    stopped completing passes is "degraded" too (see `gateway.jobs.last_passes`): no web process can fix it."""
    checks: dict[str, str] = {}
    ages: dict[str, float | None] = {}

    async def database() -> None:
        async with request.app[SESSIONS]() as session:
            await session.execute(text("SELECT 1 AS ready"))  # named: told apart from the pool's pings

    async def redis() -> None:
        ages.update(await pass_ages(request.app[REDIS], ("reconcile",)))  # answers as a PING would

    # Both at once, Redis's under a short limit of its own: a Redis that is unreachable (packets dropped, not
    # refused) or hung would otherwise hold the answer past a balancer's check time, which then takes out a host
    # that is ready, and every host at once when Redis is away from all of them.
    probes = {"postgres": answered_within(request.app, database, PROBE_SECONDS, shield=True),
              "redis": answered_within(request.app, redis, REDIS_PROBE_SECONDS, shield=False)}
    for name, outcome in zip(probes, await asyncio.gather(*probes.values(), return_exceptions=True), strict=True):
        if isinstance(outcome, BaseException):  # any failure means not ready; say which
            log.warning("readiness: %s unavailable: %r", name, outcome)
            checks[name] = "unavailable"
        else:
            checks[name] = "ok"
    reasons = [f"{name} is unavailable" for name, check in checks.items() if check != "ok"]
    checks["reconciler"] = reconciler_check(request.app, ages, reasons) if checks["redis"] == "ok" else "unknown"
    ready = checks["postgres"] == "ok"
    status = "unavailable" if not ready else "degraded" if reasons else "ready"
    body: dict[str, object] = {"status": status, "checks": checks}
    if reasons:
        body["reason"] = "; ".join(reasons)
    return web.json_response(body, status=200 if ready else 503)


async def answered_within(app: web.Application, probe: Callable[[], Coroutine[None, None, None]], seconds: float, *,
                          shield: bool) -> None:
    """The probe's answer within `seconds`, or TimeoutError. A shielded probe is not cancelled at the time
    limit but left to finish: a PostgreSQL connection cancelled while it is being opened or used can be left
    neither closed nor back in the pool (asyncpg#1156), one leaked socket per slow probe while the database is
    slow, which is exactly when a load balancer probes most. The probe is begun here, not by the caller: a check
    cancelled before this runs (its client gone) leaves no probe made and never awaited."""
    if not shield:
        await answer_within(seconds, probe())
        return
    task = asyncio.create_task(probe())
    app[PROBES_UNDER_WAY].add(task)
    task.add_done_callback(app[PROBES_UNDER_WAY].discard)
    await answer_within(seconds, asyncio.shield(task))


def reconciler_check(app: web.Application, ages: dict[str, float | None], reasons: list[str]) -> str:
    """The reconciler's state: ok, not_yet (no pass seen while this process is young) or stale (why: in `reasons`)."""
    problem = reconciler_problem(ages.get("reconcile"), time.monotonic() - app[STARTED_AT])
    if problem is not None:
        reasons.append(problem)
        return "stale"
    return "ok" if ages.get("reconcile") is not None else "not_yet"


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    if not request.app[METRICS_ACCESS].allows(request):
        return error_body(403, "forbidden", "Metrics are served to the addresses in METRICS_ALLOW, or with "
                          "Authorization: Bearer <METRICS_TOKEN>.")
    redis, watched = request.app[REDIS], request.app[WATCHED_PASSES]
    ages: dict[str, float | None] = {}
    found: dict[str, int] | None = None
    depths: dict[str, int] = {}

    async def read_redis() -> None:
        nonlocal ages, found
        depths.update({name: int(await redis.llen(f"rq:queue:{name}")) for name in QUEUE_NAMES})
        ages = await pass_ages(redis, watched)
        found = await found_paid(redis)

    try:
        # Cut off at the limit, its connection is closed, never handed back half-read (redis-py disconnects a
        # command cancelled while it waits for its answer).
        await answer_within(METRICS_REDIS_SECONDS, read_redis())
        redis_answered = True
    except (RedisError, TimeoutError) as exc:  # the rest of the figures still matter while Redis is away
        log.warning("metrics: queue depths and periodic pass ages unknown, Redis is unavailable: %r", exc)
        depths.clear()
        ages, found, redis_answered = {}, None, False
    registry = request.app[METRICS]
    registry.note_redis_answered(redis_answered)
    await registry.refresh(request.app[SESSIONS], depths)
    registry.note_payment_work(request.app[STARTS].in_flight, request.app[CHECKS].in_flight)
    registry.note_pass_ages(ages)
    registry.note_found_paid(found)
    return web.Response(body=registry.render(), headers={"Content-Type": CONTENT_TYPE})


PAYMENT_WORK_SECONDS = 1.0


async def payment_work_ctx(app: web.Application) -> AsyncIterator[None]:
    """This process's payment work under way, noted every second: where the host's processes share their figures,
    a scrape reaching any of them serves the sum, so each keeps its share current, not only when scraped itself."""
    async def note() -> None:
        while True:
            app[METRICS].note_payment_work(app[STARTS].in_flight, app[CHECKS].in_flight)
            await asyncio.sleep(PAYMENT_WORK_SECONDS)

    task = asyncio.create_task(note(), name="payment-work")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def probes_ctx(app: web.Application) -> AsyncIterator[None]:
    """Before the database's context closes its pool: probes still under way finish first (each is bounded by
    the engine's statement time-out)."""
    yield
    under_way: set[asyncio.Task[None]] = app[PROBES_UNDER_WAY]
    if under_way:
        await asyncio.wait(tuple(under_way))


def setup(app: web.Application) -> None:
    """After the contexts that make the payment work's queues (`assembly.web.app.relay_ctx`)."""
    app[STARTED_AT] = time.monotonic()
    app[PROBES_UNDER_WAY] = set[asyncio.Task[None]]()
    app.cleanup_ctx.append(probes_ctx)
    # A bad METRICS_ALLOW stops start-up here.
    app[METRICS_ACCESS] = MetricsAccess.from_settings(settings_of(app, Settings))
    app.add_routes(routes)
    app.cleanup_ctx.append(payment_work_ctx)
