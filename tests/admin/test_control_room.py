"""The control room: the whole service's figures over the last minutes equal direct SQL counts and the measured
latencies, it is shown to owners, auditors and support only, it is live, and its in-process alerts fire when
their condition holds and are quiet otherwise."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from sqlalchemy import text

from admin.control_alerts import LevelsSnapshot, cap_use
from gateway.db.engine import Sessions
from gateway.jobs.last_passes import note_pass
from payments.callbacks import SERVICE_LEVELS
from tests.admin.accounts import api_tokens, bearer, make_account
from tests.admin.seeding import seeded_contest
from tests.admin.test_dashboard import read_event
from tests.factories import make_contest


async def sql(sessions: Sessions, statement: str) -> dict[str, int]:
    async with sessions() as session:
        return {str(k): int(v) for k, v in (await session.execute(text(statement))).all()}


RECENT_PAID = ("FROM vote_orders WHERE status = 'paid' AND candidate_id IS NOT NULL "
               "AND decided_at >= now() - interval '5 minutes' GROUP BY 1")


async def test_the_figures_equal_direct_sql_counts_and_the_measured_latencies(
        client: TestClient, sessions: Sessions) -> None:
    await seeded_contest(sessions)
    now = datetime.now(UTC)  # opened before its time: open, not on air
    await make_contest(sessions, slug="early", opens_at=now + timedelta(hours=1), closes_at=now + timedelta(hours=4))
    levels = client.server.app[SERVICE_LEVELS]
    for seconds in [0.2] * 98 + [3.0] * 2:  # 98 within 0.25 s, 2 between 2 s and 5 s
        levels.note_counted("mtn", seconds)
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    response = await client.get("/api/v1/admin/control", headers=owner)
    assert response.status == 200, await response.text()
    room = await response.json()

    by_channel = await sql(sessions, f"SELECT channel::text, sum(quantity) {RECENT_PAID}")
    assert room["votes_by_channel"] == by_channel and sum(by_channel.values()) == 17
    assert room["votes_by_provider"] == await sql(sessions, f"SELECT provider, sum(quantity) {RECENT_PAID}") == {
        "mtn": 7, "orange": 6, "stripe": 4}
    assert room["votes_per_second"]["total"] == round(17 / 300, 2)
    assert room["votes_per_second"]["by_provider"]["orange"] == round(6 / 300, 2)
    assert sum(n for _, n in room["votes_by_minute"]) == 17
    assert room["money_in"] == await sql(sessions, "SELECT currency, sum(amount) FROM vote_orders WHERE status IN "
                                         "('paid', 'held', 'flagged', 'refund_requested', 'refunded') AND "
                                         "decided_at >= now() - interval '5 minutes' GROUP BY 1")
    assert (room["held_orders"], room["held_votes"], room["pending_orders"]) == (1, 3, 2)
    assert (room["verification_backlog"], room["open_contests"], room["contests_on_air"]) == (1, 2, 1)
    # histogram_quantile's estimate: p50 in the (0.1, 0.25] bucket, p99 in the (2, 5] bucket.
    assert room["confirmation_latency_seconds"]["p50"] == 0.1 + 0.15 * 50 / 98
    assert room["confirmation_latency_seconds"]["p99"] == 2.0 + 3.0 * (99 - 98) / 2

    page = await client.get("/admin/control", headers=owner)
    html = await page.text()
    assert page.status == 200 and "Control room" in html and "<svg" in html
    assert f'id="votes-per-second">{17 / 300:.2f}<' in html and "17 votes" in html
    assert "Measured by this process over the last" in html  # the latency's window, said
    assert '<a href="/admin/control">' in html  # in the nav


async def test_only_owners_auditors_and_support_see_the_control_room(client: TestClient, sessions: Sessions
                                                                     ) -> None:
    await seeded_contest(sessions)
    for role, status in (("owner", 200), ("auditor", 200), ("support", 200), ("organiser", 403)):
        headers = bearer(await api_tokens(client, await make_account(sessions, role)))
        assert (await client.get("/api/v1/admin/control", headers=headers)).status == status, role
    assert (await client.get("/api/v1/admin/control")).status == 401
    page = await client.get("/admin/control", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == "/admin/signin"
    stream = await client.get("/admin/control/stream", allow_redirects=False)
    assert stream.status == 303


def states(found: list[Any]) -> dict[str, str]:
    return {":".join([alert["name"], *alert["labels"].values()]): alert["state"] for alert in found}


async def test_alerts_fire_when_their_condition_holds_and_are_quiet_otherwise(
        client: TestClient, sessions: Sessions, redis: Redis) -> None:
    contest = await seeded_contest(sessions)
    now = datetime.now(UTC)  # a second contest on air for 11 minutes, no order: silent, whatever the first takes
    await make_contest(sessions, slug="quiet", opens_at=now - timedelta(minutes=11), closes_at=now + timedelta(hours=1))
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    await note_pass(redis, "reconcile")
    await note_pass(redis, "relay-outbox", now=time.time() - 100)  # the relay's last pass 100 s ago: beyond 45 s
    levels = client.server.app[SERVICE_LEVELS]
    for outcome in ["ok"] * 9 + ["throttled"]:  # 10 % of MTN's answers throttled: beyond 5 %
        levels.note_call("mtn", outcome)
    for _ in range(20):
        levels.note_call("orange", "ok")
    for _ in range(10):  # ten status calls under MTN's cap, 5 a second for this schedule
        levels.note_status_turn("mtn", "checks", 0.01, 5.0)
    room = await (await client.get("/api/v1/admin/control", headers=owner)).json()
    alerts_now = states(room["alerts"])
    assert room["alerts_from"] == "here" and room["prometheus_problem"] is None
    # Their conditions hold; they fire once they held for their rules' `for:` (30 s, 2 minutes).
    assert alerts_now["PeriodicPassSilent:relay-outbox"] == "pending"
    shown = {alert["labels"]["pass"]: alert["detail"]
             for alert in room["alerts"] if alert["name"] == "PeriodicPassSilent"}
    assert shown["relay-outbox"].startswith("10") and shown["relay-outbox"].endswith(" s / 45 s")  # its age, its limit
    assert shown["money-check"] == "– / 900 s"  # never run here: no age, and its own limit
    assert alerts_now["PeriodicPassSilent:reconcile"] == "inactive"
    assert alerts_now["ProviderThrottling:mtn"] == "pending" and alerts_now["ProviderThrottling:orange"] == "inactive"
    assert alerts_now[f"NoVotesArriving:{contest.slug}"] == "inactive" and alerts_now["RedisDown"] == "inactive"
    assert alerts_now["NoVotesArriving:quiet"] == "pending"
    cap = room["status_caps"]["mtn checks"]
    assert (cap["per_second"], cap["calls"]) == (5.0, 10.0) and 0 < cap["use"]

    await note_pass(redis, "relay-outbox")
    page = await (await client.get("/admin/control", headers=owner)).text()
    assert 'data-alert="PeriodicPassSilent:relay-outbox" data-state="inactive"' in page
    assert 'data-alert="ProviderThrottling:mtn" data-state="pending"' in page


async def test_the_stream_sends_the_room_and_again_when_it_changes(client: TestClient, sessions: Sessions,
                                                                   redis: Redis) -> None:
    await seeded_contest(sessions)
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    response = await client.get("/admin/control/stream", headers=owner)
    assert response.headers["Content-Type"].startswith("text/event-stream")
    first = await read_event(response)
    assert 'data-alert="ReconcilerOrRelayUnknown" data-state="pending"' in first  # no pass recorded yet
    await note_pass(redis, "relay-outbox")
    await note_pass(redis, "reconcile")
    second = await read_event(response)
    assert 'data-alert="ReconcilerOrRelayUnknown" data-state="inactive"' in second
    response.close()


def test_status_cap_use_is_the_calls_a_second_over_the_cap() -> None:
    assert cap_use(LevelsSnapshot(caps={"mtn checks": 5.0, "mtn reconcile": 0.0}, status_calls={"mtn checks": 600.0}),
                   300.0) == {"mtn checks": 0.4}  # 2 calls a second of 5


async def test_the_control_room_speaks_french(client: TestClient, sessions: Sessions) -> None:
    auditor = bearer(await api_tokens(client, await make_account(sessions, "auditor")))
    page = await (await client.get("/admin/control?lang=fr", headers=auditor)).text()
    assert "Salle de contrôle" in page and "Votes par seconde par canal" in page
    assert "Prometheus et Alertmanager restent la source des astreintes" in page
