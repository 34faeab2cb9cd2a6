"""Liveness, readiness and metrics: what a load balancer and Prometheus see."""

from __future__ import annotations

import asyncio
import gc
import re
import time
import warnings

import pytest
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import event

from assembly.settings import ConfigError, Environment, Settings
from assembly.web.app import create_app
from assembly.web.health import PROBE_SECONDS, readyz
from assembly.web.keys import ENGINE, STARTS
from assembly.worker.job_runtime import JobContext
from assembly.worker.passes import PASSES_BY_NAME, run_pass
from assembly.worker.worker_jobs import RECONCILE_LEASE, reconcile_pass
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.jobs.last_passes import RECONCILE_STALE_SECONDS, note_pass, reconciler_problem
from gateway.jobs.leases import lease_held
from gateway.kit.keys import PROVIDERS
from tests.factories import make_contest, place
from tests.fakes.mtn import FakeMtn
from tests.network import postgres_relay
from tests.servers import free_port
from tests.waiting import until


async def test_healthz_and_readyz_answer_ok(client: TestClient) -> None:
    assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status == 200
    # A fresh install: no reconciler pass yet, and not an alarm while the process is young.
    assert await ready.json() == {"status": "ready",
                                  "checks": {"postgres": "ok", "redis": "ok", "reconciler": "not_yet"}}


async def test_a_readiness_check_whose_client_left_before_its_probes_began_leaves_no_probe_unawaited(
        client: TestClient) -> None:
    """A balancer that gives up on a check (its time-out, a frozen host) has its request cancelled: cancelled before
    its probes' tasks first ran, it left each probe made and never awaited, a warning in the web process's log."""
    request = make_mocked_request("GET", "/readyz", app=client.app)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check = asyncio.create_task(readyz(request))
        await asyncio.sleep(0)  # the check reaches its gather: the probes' tasks are scheduled, not begun
        check.cancel()
        assert (await asyncio.gather(check, return_exceptions=True))[0].__class__ is asyncio.CancelledError
        gc.collect()
    assert [str(warning.message) for warning in caught if "never awaited" in str(warning.message)] == []


async def test_with_redis_down_readyz_stays_ready_but_says_degraded(settings: Settings, tmp_path: object) -> None:
    """Votes go on without Redis: a load balancer must not take the web processes away for it."""
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with TestClient(TestServer(create_app(broken))) as client:
        response = await client.get("/readyz")
        assert response.status == 200
        assert await response.json() == {
            "status": "degraded", "checks": {"postgres": "ok", "redis": "unavailable", "reconciler": "unknown"},
            "reason": "redis is unavailable"}
        assert (await client.get("/metrics")).status == 200


async def test_a_hung_redis_keeps_readyz_ready_and_quick(settings: Settings) -> None:
    """A Redis that takes connections and never answers (hung, or its replies lost on the way): /readyz still
    says ready, degraded, and says it before the PostgreSQL probe's own limit, well inside a balancer's check
    time; a slow answer would read as "down" and take a ready host, or every host, out of the rotation."""
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # holds the connection until the client gives up
        writer.close()

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    hung = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"})
    try:
        async with TestClient(TestServer(create_app(hung))) as client:
            started = time.monotonic()
            response = await client.get("/readyz")
            answered_in = time.monotonic() - started
            assert response.status == 200
            assert (await response.json())["checks"] == {"postgres": "ok", "redis": "unavailable",
                                                         "reconciler": "unknown"}
            assert answered_in < PROBE_SECONDS
    finally:
        silent.close()


async def test_readyz_is_503_when_postgres_is_down(settings: Settings, redis: object) -> None:
    broken = settings.model_copy(update={"database_url": f"postgresql://postgres@127.0.0.1:{free_port()}/none"})
    async with TestClient(TestServer(create_app(broken))) as client:
        response = await client.get("/readyz")
        assert response.status == 503
        assert (await response.json())["checks"]["postgres"] == "unavailable"
        # Its figures read the database too: the scrape fails, and Prometheus sees the process down (TargetDown,
        # held back behind PostgresDown in deploy/prometheus/alertmanager.yml).
        assert (await client.get("/metrics")).status >= 500


async def test_metrics_count_orders_by_status_and_requests(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    paid = await place(sessions, contest, quantity=2)
    await place(sessions, contest)
    await counting.confirm_payment(sessions, paid.id, "SUCCESSFUL", 200, "XAF", "t", provider=paid.provider)
    await client.get("/api/v1/contests")
    text = await (await client.get("/metrics")).text()
    assert 'gateway_orders{status="paid"} 1.0' in text
    assert 'gateway_orders{status="pending"} 1.0' in text
    assert 'gateway_http_requests_total{method="GET",route="/api/v1/contests",status="200"} 1.0' in text
    assert 'gateway_queue_depth{queue="default"}' in text
    assert 'gateway_payment_work{kind="prompts_owed"} 0.0' in text


async def test_metrics_show_prompts_owed_while_a_provider_is_slow(client: TestClient, sessions: Sessions,
                                                                  fake_mtn: FakeMtn) -> None:
    await make_contest(sessions, slug="gala")
    fake_mtn.prompts_held = asyncio.Event()  # MTN slow to take prompts: they pile up in the web process
    for n in range(3):
        response = await client.post("/api/v1/contests/gala/votes", json={
            "candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": f"+23767000004{n}"},
            headers={"X-Forwarded-For": f"203.0.113.{n + 1}"})
        assert response.status == 201
    text = await (await client.get("/metrics")).text()
    assert 'gateway_payment_work{kind="prompts_owed"} 3.0' in text
    fake_mtn.prompts_held.set()
    await client.app[STARTS].wait_idle()
    text = await (await client.get("/metrics")).text()
    assert 'gateway_payment_work{kind="prompts_owed"} 0.0' in text


async def test_a_flood_of_metrics_scrapes_counts_the_orders_once(client: TestClient, sessions: Sessions) -> None:
    """A burst of scrapes must not become a burst of full-table counts on show night."""
    contest = await make_contest(sessions)
    await place(sessions, contest)
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    engine = client.app[ENGINE].sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        answers = await asyncio.gather(*(client.get("/metrics") for _ in range(50)))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert all(answer.status == 200 for answer in answers)
    assert 'gateway_orders{status="pending"} 1.0' in await answers[-1].text()
    # One refresh's grouped counts (orders, contests, the contests' last orders, refunds and payouts), not fifty.
    assert sum("GROUP BY" in statement for statement in statements) == 4


async def test_readyz_is_degraded_with_the_reason_when_the_reconciler_missed_three_passes(
    client: TestClient, sessions: Sessions, redis: Redis, settings: Settings
) -> None:
    """Silence is the alarm: a reconciler that stopped (its enqueuer dead) leaves lost callbacks unpaid."""
    await note_pass(redis, "reconcile", now=time.time() - 60)  # three passes and more ago
    response = await client.get("/readyz")
    assert response.status == 200  # still serving votes: a load balancer must keep it
    body = await response.json()
    assert body["status"] == "degraded" and body["checks"]["reconciler"] == "stale"
    assert "the reconciler's last completed pass was 60 s ago" in body["reason"]
    await reconcile_pass(JobContext(settings, sessions, redis, client.app[PROVIDERS]))  # a pass completes
    assert await (await client.get("/readyz")).json() == {
        "status": "ready", "checks": {"postgres": "ok", "redis": "ok", "reconciler": "ok"}}


def test_a_reconciler_never_seen_is_an_alarm_only_after_three_passes_time() -> None:
    assert reconciler_problem(None, process_age=10) is None  # a fresh install, just started
    late = reconciler_problem(None, process_age=RECONCILE_STALE_SECONDS + 1)
    assert late is not None and "no reconciler pass recorded" in late
    assert reconciler_problem(RECONCILE_STALE_SECONDS - 1, process_age=10_000) is None
    assert reconciler_problem(RECONCILE_STALE_SECONDS + 1, process_age=10_000) is not None


async def test_metrics_show_the_age_of_each_periodic_pass_run_by_the_worker(
    client: TestClient, sessions: Sessions, redis: Redis, settings: Settings
) -> None:
    """Each pass's age once it completed a run where the worker runs passes; none for a pass never run."""
    assert "gateway_periodic_last_pass_age_seconds{" not in await (await client.get("/metrics")).text()
    ctx = JobContext(settings, sessions, redis, client.app[PROVIDERS])
    for name in ("reconcile", "relay-outbox", "ledger-checkpoint"):
        await run_pass(ctx, PASSES_BY_NAME[name])
    ages = pass_age_samples(await (await client.get("/metrics")).text())
    assert set(ages) == {"reconcile", "relay-outbox", "ledger-checkpoint"}
    assert all(0 <= age < 5 for age in ages.values())
    await note_pass(redis, "reconcile", now=time.time() - 100)
    assert 99 <= pass_age_samples(await (await client.get("/metrics")).text())["reconcile"] < 105


async def test_a_long_reconciler_pass_still_under_way_keeps_readyz_ready(
    client: TestClient, sessions: Sessions, redis: Redis, settings: Settings
) -> None:
    """A pass over hundreds of due orders outlives three intervals; the passes enqueued meanwhile find its
    lease (renewed only while it runs) and say the reconciler is alive."""
    await note_pass(redis, "reconcile", now=time.time() - 100)  # the long pass started 100 s ago
    ctx = JobContext(settings, sessions, redis, client.app[PROVIDERS])
    async with lease_held(redis, RECONCILE_LEASE, 30) as held:  # ... and still holds the lease
        assert held and await reconcile_pass(ctx) == "another pass is running"
    ready = await (await client.get("/readyz")).json()
    assert ready["status"] == "ready", ready
    assert pass_age_samples(await (await client.get("/metrics")).text())["reconcile"] < 5


def pass_age_samples(exposition: str) -> dict[str, float]:
    found = re.findall(r'^gateway_periodic_last_pass_age_seconds\{pass="([\w-]+)"\} (\S+)$', exposition, re.MULTILINE)
    return {name: float(value) for name, value in found}


METRICS_TOKEN = "scraper-" + "k3Yq9vTz" * 3


async def test_metrics_are_refused_outside_metrics_allow_unless_the_bearer_token_is_right(
    settings: Settings, sessions: Sessions
) -> None:
    await place(sessions, await make_contest(sessions))
    guarded = settings.model_copy(update={"metrics_allow": "10.0.0.0/8, 2001:db8::/32",
                                          "metrics_token": SecretStr(METRICS_TOKEN)})
    async with TestClient(TestServer(create_app(guarded))) as client:  # it connects from 127.0.0.1
        for headers in ({}, {"X-Forwarded-For": "10.1.2.3"}, {"Authorization": "Bearer not-the-token-at-all"},
                        {"Authorization": f"Basic {METRICS_TOKEN}"}):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status == 403, headers
            body = await refused.text()
            assert '"code": "forbidden"' in body and "gateway_orders" not in body
        allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert allowed.status == 200
        assert 'gateway_orders{status="pending"} 1.0' in await allowed.text()


async def test_production_serves_metrics_to_nobody_until_told_whom(settings: Settings, sessions: Sessions) -> None:
    production = settings.model_copy(update={"gateway_env": Environment.PRODUCTION,
                                             "secret_key": SecretStr(METRICS_TOKEN * 2),
                                             "public_base_url": "https://vote.example.org"})
    async with TestClient(TestServer(create_app(production))) as client:
        assert (await client.get("/metrics")).status == 403  # loopback is no exception in production
    allowed = production.model_copy(update={"metrics_allow": "127.0.0.1"})
    async with TestClient(TestServer(create_app(allowed))) as client:
        assert (await client.get("/metrics")).status == 200


def test_a_bad_metrics_setting_stops_start_up(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="METRICS_ALLOW"):
        create_app(settings.model_copy(update={"metrics_allow": "10.0.0.0/8, intranet"}))
    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        create_app(settings.model_copy(update={"metrics_token": SecretStr("short")}))
    with pytest.raises(ConfigError, match="METRICS_TOKEN must be random"):  # the rule of every other secret
        create_app(settings.model_copy(update={"metrics_token": SecretStr("a" * 24)}))


async def test_a_readiness_probe_pg_answers_late_costs_no_connection(settings: Settings, redis: object) -> None:
    """PostgreSQL's answer to the probe arrives after the 2 s limit: the balancer hears 'unavailable' at the
    limit, and the connection comes back to the pool once the answer is in (cancelling the statement made the
    answer wait for the cancellation, 4 s, and could leave the connection neither closed nor pooled)."""
    relay, url = await postgres_relay(settings.database_url or "")
    app = create_app(settings.model_copy(update={"database_url": url}))
    try:
        async with TestClient(TestServer(app)) as client:
            held = relay.hold_next_answer(b"SELECT 1 AS ready")  # its first run sends its text (then prepared)
            started = time.monotonic()
            slow = await client.get("/readyz")
            assert (slow.status, (await slow.json())["checks"]["postgres"]) == (503, "unavailable")
            assert time.monotonic() - started < 4
            held.release()
            await until(lambda: app[ENGINE].pool.checkedout() == 0)
            assert (await client.get("/readyz")).status == 200
    finally:
        await relay.close()
