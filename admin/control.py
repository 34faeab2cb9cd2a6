"""The control room: the whole service's figures over the last minutes, live, on a phone or a desk.

From the service's own figures, so it works on `make run`'s embedded default with no Prometheus: PostgreSQL's
counts (`gateway.core.oversight.control_room`), the measured latencies and provider answers (`ServiceLevels`,
kept over the rules' windows by `LevelsHistory`), the periodic passes' ages and the reconciler's finds from Redis.
Where the host's processes share their measured figures (`gateway run`'s web processes on one port and its
workers), those are the host's sums, the same /metrics serves, counted from when the supervisor emptied their
directory, whichever web process serves the page: one process's would be a sample. Where they share none (one
`gateway web`, the tests' in-process apps), this process's own, from its start. The assembly says which
(`LevelsSource`). Charts as inline SVG; the stream sends the figures' HTML when it changes, as the contest
dashboard's does (the same small script swaps it in). Owners, auditors and support read it; an organiser's role
does not hold it (the figures are every contest's).

Its alerts are the ones that page: Prometheus' own where PROMETHEUS_URL names it (`admin.prometheus_alerts`), else
(or while it does not answer, which the page says) the same rules evaluated here (`admin.control_conditions`,
their thresholds, windows and `for:` those of deploy/prometheus/rules.yml), pending then firing then gone as
Prometheus leads them (`admin.alert_states`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from admin import charts
from admin.alert_rules import PROVIDER_CALLBACKS_LOST, PROVIDER_DECLINING
from admin.alert_states import FIRING, PENDING, Alert, AlertStates
from admin.control_alerts import (
    SHOWN_SECONDS,
    LevelsHistory,
    LevelsSnapshot,
    cap_use,
    provider_shares,
    quantile,
    snapshot,
)
from admin.control_conditions import evaluate, record
from admin.control_database import DatabaseRoles, database_roles, roles_said
from admin.control_overlay import cued_contests, may_cue
from admin.control_overlay import setup as overlay_setup
from admin.dashboard import PAGE_CSP, REFRESH_SECONDS, Gettext, figures_stream, gettext_of
from admin.keys import ADMIN_TEMPLATES, LEVELS_SOURCE, WATCHED_PASSES
from admin.pages.rendering import render
from admin.prometheus_alerts import PrometheusUnavailable, prometheus_alerts
from admin.settings import AdminSettings
from admin.show_rounds import lines_panels
from admin.show_rounds import setup as rounds_setup
from admin.web import guarded
from gateway.core.audit import Actor
from gateway.core.money_in.found_paid import found_paid
from gateway.core.oversight.contest_silence import contest_silences
from gateway.core.oversight.control_room import ServiceFigures, service_figures
from gateway.core.texts import N_
from gateway.jobs.last_passes import pass_ages
from gateway.kit.keys import HTTP, REDIS, SESSIONS, settings_of
from gateway.kit.overlay_cue import LAYOUTS

routes = web.RouteTableDef()
HISTORY = web.AppKey("control_history", LevelsHistory)
STATES = web.AppKey("control_alert_states", AlertStates)
PERMISSION = "control.read"
REDIS_ANSWER_SECONDS = 1.0  # a Redis slower to answer the room is not answering (RedisDown), as for /metrics
# What each alert means, for the people watching (the rule's own summary, in the admin's language): every alert
# of deploy/prometheus/rules.yml, the ones only Prometheus evaluates included (a test keeps them in step).
MEANINGS = {
    "VotesCountedLateFastBurn": N_("Paid votes take over 2 s to count"),
    "VotesCountedLateSlowBurn": N_("Paid votes take over 2 s to count, for a while"),
    "BoardFramesLateFastBurn": N_("The boards lag the tally by over 1 s"),
    "BoardFramesLateSlowBurn": N_("The boards lag the tally by over 1 s, for a while"),
    "NoVotesArriving": N_("A contest is on air and no vote arrives"),  # per contest: its slug beside it
    "PeriodicPassSilent": N_("A periodic pass has stopped"),  # per pass: its name, its age and its limit beside it
    "ReconcilerOrRelayUnknown": N_("No periodic pass is known: the worker never ran, or Redis is gone"),
    "OutboxNotRelayed": N_("Confirmed votes wait to reach the boards"),
    "VerificationBacklogGrowing": N_("Callback-counted orders wait for their check"),
    "ProviderThrottling": N_("A provider throttles our calls"),
    "ProviderFailing": N_("A provider fails our calls"),
    "ProviderCallbacksLost": N_("A provider's callbacks do not reach us: votes wait for our status checks"),
    "ProviderDeclining": N_("A provider declines the payments: votes arrive and none is taken"),
    "RedisDown": N_("Redis does not answer: votes go on, live boards freeze"),
    "GatewayProcessReplaced": N_("A web process or worker stopped answering and was replaced"),
    "TargetDown": N_("Prometheus cannot reach one of its targets"),
    "GatewayNotScraped": N_("Prometheus reaches no gateway at all"),
    "PostgresDown": N_("PostgreSQL does not answer: votes are refused"),
    "DiskFilling": N_("A disk is filling up"),
    "WalArchiveFailing": N_("PostgreSQL fails to archive its WAL"),
    "WalArchiveBehind": N_("No WAL segment archived for 5 minutes while a contest is on air"),
    "PostgresTimelineWithoutBaseBackup": N_(
        "PostgreSQL writes on a timeline with no base backup: a second loss loses it"),
    "PostgresNoSyncStandby": N_("PostgreSQL has no synchronous standby: commits wait"),
    "PostgresReplicationLagHigh": N_("A PostgreSQL replica falls behind the primary"),
    "PostgresFailover": N_("PostgreSQL promoted a new primary"),
    "EtcdNoQuorum": N_("etcd has no quorum: PostgreSQL refuses writes"),
    "RedisSentinelFailover": N_("Redis Sentinel moved the master to another server"),
}
STATES_SAID = {FIRING: N_("firing"), PENDING: N_("pending")}  # any other: quiet
TEXTS = (N_("Control room"), N_("TV overlays"), N_("On air"), N_("Hidden"), N_("Show"), N_("Hide"),
         N_("Each overlay's own layout"), N_("Full board"), N_("Lower-third strip"), N_("Corner bug"),
         N_("Every overlay page open on a contest follows within a second."), N_("Layout"),
         N_("unknown: Redis does not answer"), N_("Votes a second by channel"), N_("Votes a second by provider"),
         N_("Votes a minute"), N_("Confirmation latency"), N_("Money in"), N_("Refunds"), N_("Providers"),
         N_("Queues and backlogs"), N_("Holds waiting"), N_("Alerts"), N_("quiet"),
         N_("Figures at %(time)s, over the last %(minutes)s minutes."), N_("no confirmation yet"),
         N_("calls"), N_("throttled"), N_("failing"), N_("Status-call cap (a second)"), N_("used"), N_("Outbox"),
         N_("Verification backlog"), N_("Verifications"), N_("Pending orders"), N_("Open contests"), N_("On air"),
         N_("Votes"), N_("votes"), N_("oldest"), N_("Numbers"), N_("for %(seconds)s s"),
         N_("Measured by this process over the last %(seconds)s s."),
         N_("Measured by this host's processes over the last %(seconds)s s."),
         N_("The alerts of Prometheus (%(url)s), as it evaluates its rules: the ones that page."),
         N_("Prometheus (%(url)s) does not answer (%(problem)s): these alerts are computed here, by its rules."),
         N_("Alerts computed here from this process's figures, by Prometheus' rules; Prometheus and Alertmanager "
            "remain the source for paging."),
         N_("Alerts computed here from this host's figures, by Prometheus' rules; Prometheus and Alertmanager "
            "remain the source for paging."))


class Room:
    """One moment of the control room: the database's figures, the measured window, the alerts and where they come
    from (`prometheus_url` set: Prometheus', unless `prometheus_problem` says it did not answer)."""

    def __init__(self, figures: ServiceFigures, database: DatabaseRoles, window: LevelsSnapshot, span: float,
                 found: list[Alert], host: bool, prometheus_url: str = "",
                 prometheus_problem: str | None = None) -> None:
        self.figures, self.database, self.window, self.span, self.host = figures, database, window, span, host
        self.alerts = sorted(found, key=lambda a: (a.state != FIRING, a.state != PENDING))
        self.prometheus_url, self.prometheus_problem = prometheus_url, prometheus_problem
        self.p50 = quantile(0.5, window.tally_buckets)
        self.p99 = quantile(0.99, window.tally_buckets)
        self.providers = provider_shares(window.calls)
        self.cap_use = cap_use(window, span)

    @property
    def alerts_from(self) -> str:
        return "prometheus" if self.prometheus_url and self.prometheus_problem is None else "here"


class SharedRoom:
    """The room the open streams of this process share: computed once per refresh however many watch."""

    def __init__(self) -> None:
        self.room: Room | None = None
        self.at = 0.0
        self.lock = asyncio.Lock()

    async def latest(self, request: web.Request) -> Room:
        async with self.lock:
            if self.room is None or time.monotonic() - self.at >= REFRESH_SECONDS - 0.5:
                self.room, self.at = await load(request), time.monotonic()
            return self.room


SHARED = web.AppKey("control_shared", SharedRoom)


async def redis_figures(redis: Redis, passes: Iterable[str]
                        ) -> tuple[dict[str, float | None] | None, dict[str, int] | None]:
    """The passes' ages and the reconciler's finds; (None, None): Redis did not answer in time."""
    try:
        async with asyncio.timeout(REDIS_ANSWER_SECONDS):
            return await pass_ages(redis, passes), await found_paid(redis)
    except (RedisError, OSError, TimeoutError):
        return None, None


async def load(request: web.Request) -> Room:
    app = request.app
    figures = await service_figures(app[SESSIONS], paid_seconds=PROVIDER_CALLBACKS_LOST.windows[0],
                                    decided_seconds=(PROVIDER_DECLINING.windows[0], PROVIDER_DECLINING.windows[1]))
    async with app[SESSIONS]() as session:
        figures = replace(figures, contest_silences=await contest_silences(session, figures.at))
        database = await database_roles(session)  # through the service's own connection: where its votes go
    watched = app[WATCHED_PASSES]
    ages, found = await redis_figures(app[REDIS], watched)
    history, source = app[HISTORY], app[LEVELS_SOURCE]
    now = time.monotonic()
    current = record(history, now, snapshot(source.collect(), found, float(figures.verification_backlog)),
                     figures.paid_recently)
    window, span = history.over(now, current, SHOWN_SECONDS)
    computed = evaluate(app[STATES], figures, ages, history, now, current, silent_after=watched)
    url = settings_of(app, AdminSettings).prometheus_url
    if not url:
        return Room(figures, database, window, span, computed, source.host)
    try:
        return Room(figures, database, window, span, await prometheus_alerts(app[HTTP], url, datetime.now(UTC)),
                    source.host, url)
    except PrometheusUnavailable as exc:
        return Room(figures, database, window, span, computed, source.host, url, str(exc))


def per_second(figures: ServiceFigures, votes: dict[str, int]) -> list[tuple[str, float]]:
    return [(key, round(figures.per_second(n), 2)) for key, n in sorted(votes.items())]


def fragment(request: web.Request, room: Room) -> str:
    _: Gettext = gettext_of(request)
    f = room.figures
    latency = [("p50", room.p50), ("p99", room.p99)]
    svg = {
        "channel": charts.bar_chart(_("Votes a second by channel"), per_second(f, f.votes_by_channel)),
        "provider": charts.bar_chart(_("Votes a second by provider"), per_second(f, f.votes_by_provider)),
        "minutes": charts.columns(_("Votes a minute"), f.votes_by_minute),
        "latency": charts.bar_chart(_("Confirmation latency"), [(k, round(v, 2)) for k, v in latency
                                                               if v is not None], colour="#6b46c1"),
        "money": charts.bar_chart(_("Money in"), sorted(f.money_in.items()), colour="#2f855a"),
        "refunds": charts.bar_chart(_("Refunds"), [(s, n) for s, (n, _a) in sorted(f.refunds.items())],
                                    colour="#c05621"),
        "providers": charts.bar_chart(_("Providers"), [(p, round(t, 3)) for p, (_n, t, _f) in
                                                       room.providers.items()], colour="#c53030"),
        "queues": charts.bar_chart(_("Queues and backlogs"), [
            (_("Outbox"), f.outbox_backlog), (_("Verifications"), f.verification_backlog),
            (_("Pending orders"), f.pending_orders), (_("Holds waiting"), f.held_orders)], colour="#b7791f"),
    }
    meanings = {name: _(text) for name, text in MEANINGS.items()}
    states = {state: _(text) for state, text in STATES_SAID.items()}
    template = request.app[ADMIN_TEMPLATES].get_template("control_figures.html")
    return template.render({"_": _, "f": f, "room": room, "svg": svg, "meanings": meanings, "states": states,
                            "minutes": f.window_seconds // 60, "database": roles_said(_, room.database)})


def room_json(room: Room) -> dict[str, Any]:
    f = room.figures
    body: dict[str, Any] = asdict(f)
    body["at"] = f.at.isoformat()
    body["votes_per_second"] = {"by_channel": dict(per_second(f, f.votes_by_channel)),
                                "by_provider": dict(per_second(f, f.votes_by_provider)),
                                "total": round(f.per_second(f.votes), 2)}
    body["confirmation_latency_seconds"] = {"p50": room.p50, "p99": room.p99}
    body["measured_seconds"] = round(room.span)  # what the latency and providers' shares cover
    body["measured_by"] = "host" if room.host else "process"  # the host's processes summed, or this one alone
    body["providers"] = {p: {"calls": n, "throttled_share": t, "failing_share": fl}
                         for p, (n, t, fl) in room.providers.items()}
    body["status_caps"] = {key: {"per_second": cap, "calls": room.window.status_calls.get(key, 0.0),
                                 "use": room.cap_use.get(key)} for key, cap in room.window.caps.items()}
    body["alerts"] = [{**asdict(alert), "firing": alert.firing} for alert in room.alerts]
    body["alerts_from"] = room.alerts_from  # "prometheus": its own alerts; "here": the same rules evaluated here
    body["prometheus_problem"] = room.prometheus_problem
    body["database"] = asdict(room.database)  # the primary the service reaches and its standbys' lag
    return body


@routes.get("/admin/control")
@guarded(PERMISSION)
async def control_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    room = await load(request)
    response = render(request, "control.html", {"figures_html": fragment(request, room), "_": gettext_of(request),
                                                "overlays": await cued_contests(request.app, actor),
                                                "lines": await lines_panels(request.app, actor),
                                                "may_cue": may_cue(actor), "layouts": LAYOUTS}, actor)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


@routes.get("/admin/control/stream")
@guarded(PERMISSION)
async def control_stream(request: web.Request, actor: Actor) -> web.StreamResponse:
    """SSE: a `figures` event with the room's HTML at once, then whenever it changes."""
    shared = request.app[SHARED]
    return await figures_stream(request, await shared.latest(request), lambda: shared.latest(request),
                                lambda room: fragment(request, room))


@routes.get("/api/v1/admin/control")
@guarded(PERMISSION)
async def control_api(request: web.Request, actor: Actor) -> web.StreamResponse:
    return web.json_response(room_json(await load(request)), dumps=lambda body: json.dumps(body, default=str))


def setup(app: web.Application) -> None:
    app[HISTORY] = LevelsHistory(app[LEVELS_SOURCE].started_at)
    app[STATES] = AlertStates()
    app[SHARED] = SharedRoom()
    app.add_routes(routes)
    overlay_setup(app)  # the overlays' cues, set from this room
    rounds_setup(app)  # a show's rounds and its lines, opened and closed on air from this room
