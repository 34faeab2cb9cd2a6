"""A contest's dashboard: a page, its JSON under /api/v1/admin/, and a live SSE stream of the page's figures.

The stream sends the figures' HTML (rendered here, charts as inline SVG) whenever they change, checked every
few seconds; the page's small script (same origin, no library) swaps it in. Without script the page still
shows the figures of the moment it was loaded. At each check the stream also asks again whether its session
stands (what every other route asks once): a sign-out, a revocation, a password change or a disabled account
ends it within seconds, and so does its access token's expiry (the browser's EventSource then reconnects
through the silent refresh, or is sent to the sign-in page).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from admin import charts, money_fields, signin, texts, tokens
from admin.accounts import allowed
from admin.keys import ADMIN_TEMPLATES, FAILED_MESSAGES
from admin.pages.rendering import CSP, render
from admin.texts import CATALOGS
from admin.web import CLAIMS_KEY, NEW_TOKENS_KEY, guarded, secure, set_session_cookies
from gateway.core.audit import Actor
from gateway.core.channel_reports import FailedMessages
from gateway.core.money_in.reasons import reason_code, voter_reason
from gateway.core.oversight import dashboard
from gateway.core.oversight.dashboard import Figures
from gateway.core.texts import N_, Lang
from gateway.kit.keys import PHONE_WALLETS, SESSIONS
from gateway.kit.throttle import client_address

routes = web.RouteTableDef()
Shown = TypeVar("Shown")  # what a live page shows, read anew at each refresh
REFRESH_SECONDS = 3.0
HEARTBEAT_EVERY = 5  # refreshes between two heartbeats when nothing changed
SCRIPT = (Path(__file__).parent / "static" / "dashboard.js").read_text()
PAGE_CSP = CSP.replace("default-src 'none';", "default-src 'none'; script-src 'self'; connect-src 'self';")
CONTEST = "{contest_id:[0-9]{1,9}}"
Gettext = Callable[[str], str]
# The dashboard's words, for `pybabel extract` (its templates are not scanned): each is used as `_("…")`.
TEXTS = (N_("Dashboard"), N_("Back to the contest"), N_("live"), N_("loaded"), N_("Exports"), N_("From (UTC date)"),
         N_("To (UTC date, not included)"), N_("Numbers"), N_("Votes by hour"), N_("Votes by channel"),
         N_("Votes by provider"), N_("Votes by operator"), N_("Payment success rate"), N_("Main failure reasons"),
         N_("Pending orders by age"), N_("Status"), N_("Orders"), N_("Reason"), N_("Age"), N_("Slice"), N_("Votes"),
         N_("Revenue"), N_("Figures at %(time)s; revenue in %(currency)s."), N_("Queues"),
         N_("Oldest pending order"), N_("Verification backlog"), N_("oldest"), N_("Held orders"), N_("votes"),
         N_("Failed SMS"), N_("Outbox messages stuck"), N_("Invariant: tally = paid votes"), N_("Candidate"),
         N_("Tally"), N_("Paid votes"), N_("Difference"), N_("Every tally equals its paid votes."),
         N_("A tally differs from its paid votes."))


def gettext_of(request: web.Request) -> Gettext:
    """The admin's language: `?lang=fr|en`, else the browser's first choice if French, else English (a voter's
    language the admin area does not speak, Swahili, counts as none asked)."""
    lang = Lang.parse(request.query.get("lang"))
    if lang is None or lang not in CATALOGS.languages:
        first = request.headers.get("Accept-Language", "").split(",")[0].strip().lower()
        lang = Lang.FR if first.startswith("fr") else Lang.EN
    return CATALOGS.translations(lang.value).gettext


def contest_id(request: web.Request) -> int:
    return int(request.match_info["contest_id"])


async def load(request: web.Request, actor: Actor) -> Figures:
    failures: tuple[FailedMessages, ...] = request.app[FAILED_MESSAGES]
    # Votes by operator: the number blocks the providers' wallets declare (`PhoneWallets.number_blocks`).
    blocks = request.app[PHONE_WALLETS].number_blocks()
    return await dashboard.figures(request.app[SESSIONS], actor, contest_id(request), blocks, failures)


def reason_rows(figures: Figures, _: Gettext) -> list[tuple[str, int]]:
    """The main failure reasons in the organiser's words (the core's catalog holds each code's), a provider's own
    words as it gave them."""
    return [(voter_reason(reason, _) if reason_code(reason) else reason, count)
            for reason, count in figures.failure_reasons]


def chart_context(figures: Figures, _: Gettext) -> dict[str, Any]:
    """The charts of the figures (the rows behind each go in the table under it), and the words."""
    def votes(shares: list[dashboard.Share]) -> list[tuple[str, int]]:
        return [(s.key, s.votes) for s in shares]

    return {
        "f": figures, "_": _, "reasons": reason_rows(figures, _),
        "charts": {
            "hour": charts.bar_chart(_("Votes by hour"), [(s.key[11:16], s.votes) for s in figures.by_hour]),
            "channel": charts.bar_chart(_("Votes by channel"), votes(figures.by_channel)),
            "provider": charts.bar_chart(_("Votes by provider"), votes(figures.by_provider)),
            "operator": charts.bar_chart(_("Votes by operator"), votes(figures.by_operator)),
            "success": charts.gauge(_("Payment success rate"), figures.payment_success_rate),
            "reasons": charts.bar_chart(_("Main failure reasons"), reason_rows(figures, _), colour="#c53030"),
            "pending": charts.bar_chart(_("Pending orders by age"), figures.pending_ages, colour="#b7791f"),
        },
    }


def fragment(request: web.Request, figures: Figures) -> str:
    template = request.app[ADMIN_TEMPLATES].get_template("dashboard_figures.html")
    _ = gettext_of(request)
    # Each channel's failed messages, a row of the queues under the channel's own label.
    failed = [(_(report.label), figures.failed_messages.get(report.figure, 0))
              for report in request.app[FAILED_MESSAGES]]
    return template.render({**chart_context(figures, _), "failed_messages": failed,
                            "lang": texts.language_of(request), **texts.tables(texts.language_of(request))})


def figures_json(figures: Figures) -> dict[str, Any]:
    body = asdict(figures)
    body.update(body.pop("failed_messages"))  # each channel's figure at the top level, under its own name
    body["at"] = figures.at.isoformat()
    body["payment_success_rate"] = figures.payment_success_rate
    body["invariant_holds"] = figures.invariant_holds
    money_fields.with_digits(body)
    for check, raw in zip(figures.invariant, body["invariant"], strict=True):
        raw["difference"] = check.difference
    return body


@routes.get(f"/admin/contests/{CONTEST}/dashboard")
@guarded("contests.read")
async def dashboard_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    figures = await load(request, actor)
    response = render(request, "dashboard.html", {
        "contest_id": figures.contest_id, "figures_html": fragment(request, figures),
        "can_export": allowed(actor.role, "exports.read"), "_": gettext_of(request)}, actor)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


@routes.get(f"/admin/contests/{CONTEST}/dashboard/stream")
@guarded("contests.read")
async def dashboard_stream(request: web.Request, actor: Actor) -> web.StreamResponse:
    """SSE: an `figures` event with the figures' HTML at once, then whenever it changes."""
    figures = await load(request, actor)  # refuses before the stream starts
    return await figures_stream(request, figures, lambda: load(request, actor), lambda now: fragment(request, now))


async def figures_stream(request: web.Request, first: Shown, again: Callable[[], Awaitable[Shown]],
                         html_of: Callable[[Shown], str]) -> web.StreamResponse:
    """A page's live figures (this dashboard, the control room): `html_of` the figures as a `figures` event at once,
    then again whenever it changes, read anew every REFRESH_SECONDS, a heartbeat between; over when the signed-in
    session is (signed out, revoked, expired)."""
    claims = request[CLAIMS_KEY]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    issued = request.get(NEW_TOKENS_KEY)
    if issued is not None:  # a silent refresh rotated the cookies: the browser must get the new ones now
        set_session_cookies(response, issued, secure(request))
    await response.prepare(request)
    last, quiet, now = "", 0, first
    while True:
        html = html_of(now)
        if html != last:
            data = "\n".join(f"data: {line}" for line in html.splitlines())
            await response.write(f"event: figures\n{data}\n\n".encode())
            last, quiet = html, 0
        else:
            quiet += 1
            if quiet % HEARTBEAT_EVERY == 0:
                await response.write(b": heartbeat\n\n")
        await asyncio.sleep(REFRESH_SECONDS)
        if not await session_stands(request, claims):
            return response
        now = await again()


async def session_stands(request: web.Request, claims: tokens.AccessClaims) -> bool:
    """The stream's access token unexpired, its account active, its session neither signed out nor revoked."""
    if claims.expires_at is not None and claims.expires_at <= datetime.now(UTC):
        return False
    try:
        await signin.authenticate(request.app[SESSIONS], claims, client_address(request))
    except signin.SignInRefused:
        return False
    return True


@routes.get("/admin/static/dashboard.js")
async def dashboard_script(request: web.Request) -> web.StreamResponse:
    return web.Response(text=SCRIPT, content_type="text/javascript", headers={"Cache-Control": "max-age=300"})


@routes.get(f"/api/v1/admin/contests/{CONTEST}/dashboard")
@guarded("contests.read")
async def dashboard_api(request: web.Request, actor: Actor) -> web.StreamResponse:
    figures = await load(request, actor)
    return web.json_response(figures_json(figures), dumps=lambda body: json.dumps(body, default=str))

