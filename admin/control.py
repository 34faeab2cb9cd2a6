"""The control room: the whole service's figures over the last minutes, live, on a phone or a desk.

From the service's own figures, so it works on `make run`'s embedded default with no Prometheus: PostgreSQL's
counts (`gateway.core.oversight.control_room`), the measured latencies and provider answers (`ServiceLevels`,
differenced over the window by `LevelsHistory`), the periodic passes' ages from Redis, and the key alerts
evaluated in-process (`admin.control_alerts`). Where the host's processes share their measured figures
(`gateway run`'s web processes on one port and its workers), those are the host's sums, the same /metrics serves,
counted from when the supervisor emptied their directory, whichever web process serves the page: one process's
would be a sample. Where they share none (one `gateway web`, the tests' in-process apps), this process's own, from
its start. The assembly says which (`LevelsSource`). Charts as inline SVG; the stream sends the figures' HTML when
it changes, as the contest dashboard's does (the same small script swaps it in). Owners, auditors and support read
it; an organiser's role does not hold it (the figures are every contest's).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from admin import charts
from admin.control_alerts import (
    Alert,
    LevelsHistory,
    LevelsSnapshot,
    alerts,
    cap_use,
    provider_shares,
    quantile,
    snapshot,
)
from admin.dashboard import PAGE_CSP, REFRESH_SECONDS, Gettext, figures_stream, gettext_of
from admin.pages.rendering import render
from admin.web import guarded
from gateway.core.audit import Actor
from gateway.core.oversight.control_room import ServiceFigures, service_figures
from gateway.core.texts import N_
from gateway.jobs.last_passes import pass_ages
from gateway.kit.keys import ADMIN_TEMPLATES, LEVELS_SOURCE, REDIS, SESSIONS

routes = web.RouteTableDef()
HISTORY = web.AppKey("control_history", LevelsHistory)
PERMISSION = "control.read"
# What each alert means, for the people watching (the rule's own summary, in the admin's language).
MEANINGS = {
    "VotesCountedLateFastBurn": N_("Paid votes take over 2 s to count"),
    "NoVotesArriving": N_("A contest is on air and no vote arrives"),
    "ReconcilerOrRelaySilent": N_("A periodic pass has stopped"),
    "OutboxNotRelayed": N_("Confirmed votes wait to reach the boards"),
    "VerificationBacklogGrowing": N_("Callback-counted orders wait for their check"),
    "ProviderThrottling": N_("A provider throttles our calls"),
    "ProviderFailing": N_("A provider fails our calls"),
}
TEXTS = (N_("Control room"), N_("Votes a second by channel"), N_("Votes a second by provider"),
         N_("Votes a minute"), N_("Confirmation latency"), N_("Money in"), N_("Refunds"), N_("Providers"),
         N_("Queues and backlogs"), N_("Holds waiting"), N_("Alerts"), N_("firing"), N_("quiet"),
         N_("Figures at %(time)s, over the last %(minutes)s minutes."), N_("no confirmation yet"),
         N_("calls"), N_("throttled"), N_("failing"), N_("Status-call cap (a second)"), N_("used"), N_("Outbox"),
         N_("Verification backlog"), N_("Verifications"), N_("Pending orders"), N_("Open contests"), N_("On air"),
         N_("Votes"), N_("votes"), N_("oldest"), N_("Numbers"),
         N_("Measured by this process over the last %(seconds)s s."),
         N_("Measured by this host's processes over the last %(seconds)s s."),
         N_("Alerts computed here from this process's figures; Prometheus and Alertmanager remain the source "
            "for paging."),
         N_("Alerts computed here from this host's figures; Prometheus and Alertmanager remain the source "
            "for paging."))



class Room:
    """One moment of the control room: the database's figures, the measured window, the alerts."""

    def __init__(self, figures: ServiceFigures, window: LevelsSnapshot, span: float, found: list[Alert],
                 host: bool) -> None:
        self.figures, self.window, self.span, self.alerts = figures, window, span, found
        self.host = host  # measured by the host's processes summed (else by this process alone)
        self.p50 = quantile(0.5, window.tally_buckets)
        self.p99 = quantile(0.99, window.tally_buckets)
        self.providers = provider_shares(window.calls)
        self.cap_use = cap_use(window, span)


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


async def load(request: web.Request) -> Room:
    figures = await service_figures(request.app[SESSIONS])
    history, source = request.app[HISTORY], request.app[LEVELS_SOURCE]
    window = history.window(time.monotonic(), snapshot(source.collect()))
    try:
        ages: dict[str, float | None] | None = await pass_ages(request.app[REDIS])
    except (RedisError, OSError):
        ages = None
    return Room(figures, window, history.span, alerts(figures, ages, window), source.host)


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
    template = request.app[ADMIN_TEMPLATES].get_template("control_figures.html")
    return template.render({"_": _, "f": f, "room": room, "svg": svg, "meanings": meanings,
                            "minutes": f.window_seconds // 60})


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
    body["alerts"] = [asdict(alert) for alert in room.alerts]
    return body


@routes.get("/admin/control")
@guarded(PERMISSION)
async def control_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    room = await load(request)
    response = render(request, "control.html", {"figures_html": fragment(request, room),
                                                "_": gettext_of(request)}, actor)
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
    app[SHARED] = SharedRoom()
    app.add_routes(routes)
