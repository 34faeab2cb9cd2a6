"""With PROMETHEUS_URL set, the control room shows Prometheus' own alerts: every alerting rule, its pending and
firing alerts with their labels, gone when Prometheus resolves them; a Prometheus that does not answer is said on
the page, and the room's own picture shown. Prometheus is faked at the wire: a local server answering
/api/v1/rules as Prometheus 2.42 does (the fields and their shapes recorded from `prometheus` on this machine).
Without it, a Redis that does not answer the room is its own RedisDown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from assembly.settings import Settings
from assembly.web.app import LentEngines, create_app
from assembly.web.keys import STARTS
from gateway.db.engine import Sessions
from tests.admin.accounts import api_tokens, bearer, make_account
from tests.admin.seeding import seeded_contest
from tests.servers import CLOSED

ACTIVE_AT = "2026-11-27T14:07:06.478004693Z"


def alerting_rule(name: str, duration: int, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """A rule as /api/v1/rules lists it (Prometheus 2.42)."""
    state = "firing" if any(a["state"] == "firing" for a in alerts) else "pending" if alerts else "inactive"
    return {"state": state, "name": name, "query": "…", "duration": duration, "keepFiringFor": 0,
            "labels": {"severity": "page"}, "annotations": {"summary": "…"}, "alerts": alerts, "health": "ok",
            "evaluationTime": 0.000237923, "lastEvaluation": "2026-11-27T14:07:12.478585Z", "type": "alerting"}


def alert(name: str, state: str, value: str, **labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, **labels, "severity": "page"}, "annotations": {"summary": "…"},
            "state": state, "activeAt": ACTIVE_AT, "value": value}


class FakePrometheus:
    """What the fake answers: its rules, changed by the test as Prometheus' evaluations would change them."""

    def __init__(self) -> None:
        self.rules: list[dict[str, Any]] = []
        self.asked: list[dict[str, str]] = []

    async def rules_api(self, request: web.Request) -> web.Response:
        self.asked.append(dict(request.query))
        group = {"name": "ballot-providers", "file": "/etc/prometheus/rules.yml", "rules": self.rules,
                 "interval": 15, "limit": 0, "evaluationTime": 0.0004, "lastEvaluation": ACTIVE_AT}
        return web.json_response({"status": "success", "data": {"groups": [group]}})


@asynccontextmanager
async def room_with_prometheus(settings: Settings, lent: LentEngines, url: str) -> AsyncIterator[TestClient]:
    app = create_app(settings.model_copy(update={"prometheus_url": url}), lent=lent)
    async with TestClient(TestServer(app)) as client:
        yield client
        await app[STARTS].close(grace=0)


@pytest.fixture
async def prometheus() -> AsyncIterator[tuple[FakePrometheus, str]]:
    fake = FakePrometheus()
    app = web.Application()
    app.router.add_get("/api/v1/rules", fake.rules_api)
    async with TestServer(app, host="127.0.0.1") as server:
        yield fake, str(server.make_url("")).rstrip("/")


def shown(room: dict[str, Any]) -> dict[str, str]:
    return {":".join([a["name"], *a["labels"].values()]): a["state"] for a in room["alerts"]}


async def test_the_room_shows_prometheus_own_alerts_and_drops_those_it_resolved(
        clean: None, settings: Settings, lent_engines: LentEngines, sessions: Sessions,
        prometheus: tuple[FakePrometheus, str]) -> None:
    fake, url = prometheus
    await seeded_contest(sessions)
    fake.rules = [
        alerting_rule("ProviderFailing", 120, [alert("ProviderFailing", "firing", "2.5e-01", provider="mtn")]),
        alerting_rule("NoVotesArriving", 120, [alert("NoVotesArriving", "pending", "1e+00", contest="gala")]),
        alerting_rule("WalArchiveBehind", 120, [])]
    async with room_with_prometheus(settings, lent_engines, url) as client:
        owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
        room = await (await client.get("/api/v1/admin/control", headers=owner)).json()
        assert room["alerts_from"] == "prometheus" and room["prometheus_problem"] is None
        assert shown(room) == {"ProviderFailing:mtn": "firing", "NoVotesArriving:gala": "pending",
                               "WalArchiveBehind": "inactive"}
        failing = next(a for a in room["alerts"] if a["name"] == "ProviderFailing")
        assert failing["detail"] == "0.25" and failing["active_for"] > 0 and failing["labels"] == {"provider": "mtn"}
        assert fake.asked[-1] == {"type": "alert"}
        page = await (await client.get("/admin/control", headers=owner)).text()
        assert 'data-alert="ProviderFailing:mtn" data-state="firing"' in page
        assert "A provider fails our calls (mtn)" in page and f"The alerts of Prometheus ({url})" in page

        fake.rules[0] = alerting_rule("ProviderFailing", 120, [])  # Prometheus resolved it
        room = await (await client.get("/api/v1/admin/control", headers=owner)).json()
        assert shown(room)["ProviderFailing"] == "inactive" and "ProviderFailing:mtn" not in shown(room)


async def test_a_prometheus_that_does_not_answer_is_said_and_the_rooms_own_alerts_shown(
        clean: None, settings: Settings, lent_engines: LentEngines, sessions: Sessions) -> None:
    await seeded_contest(sessions)
    url = f"http://127.0.0.1:{CLOSED.port}"
    async with room_with_prometheus(settings, lent_engines, url) as client:
        owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
        room = await (await client.get("/api/v1/admin/control", headers=owner)).json()
        assert room["alerts_from"] == "here" and "ConnectError" in room["prometheus_problem"]
        assert "RedisDown" in shown(room)  # the room's own evaluation of the same rules
        page = await (await client.get("/admin/control", headers=owner)).text()
        assert f"Prometheus ({url}) does not answer" in page


def test_prometheus_url_must_be_an_http_url() -> None:
    with pytest.raises(ValueError, match="PROMETHEUS_URL"):
        Settings(prometheus_url="prometheus:9090")
    assert Settings(prometheus_url="http://prometheus:9090/").prometheus_url == "http://prometheus:9090"
    assert Settings().prometheus_url == ""  # unset: the room evaluates the rules itself


async def test_redis_not_answering_the_room_is_redis_down(
        clean: None, settings: Settings, lent_engines: LentEngines, sessions: Sessions) -> None:
    """No Prometheus: the room's own RedisDown, from its own reads of Redis failing."""
    await seeded_contest(sessions)
    app = create_app(settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{CLOSED.port}/0"}),
                     lent=lent_engines)
    async with TestClient(TestServer(app)) as client:
        owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
        room = await (await client.get("/api/v1/admin/control", headers=owner)).json()
        assert shown(room)["RedisDown:unanswered"] == "pending" and room["alerts_from"] == "here"
        await app[STARTS].close(grace=0)
