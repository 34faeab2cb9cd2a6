"""The public pages: open contests, one contest with its live board and vote form, and a vote's
status page. Plain HTML forms that work without JavaScript; static/ballot.js makes them live."""

from __future__ import annotations

import functools
import logging
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from channels.web import csrf
from channels.web.i18n import (
    Translator,
    choose_language,
    error_message,
    order_words,
    remember_language,
)
from gateway import throttle
from gateway.core import votes
from gateway.core.catalog import PublicCandidate, PublicContest, VoterOrder
from gateway.core.errors import DomainError, NotFound
from gateway.core.phone import InvalidMsisdn, normalise_msisdn
from gateway.core.ranking import BoardTop, PublicBoard
from gateway.core.rules import MOBILE_MONEY_PROVIDERS, VotingState
from gateway.core.service import VOTE_SERVICE, PlacedVote
from gateway.db.models import Channel, OrderStatus
from gateway.keys import CHECKS, REDIS, SETTINGS
from gateway.throttle import VOTE_LIMIT, VOTE_WINDOW, vote_limit_key

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
HERE = Path(__file__).parent
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Form posts per client address per minute. Generous on purpose: mobile carriers put many phones
# behind one address; the per-number limits of the core are the finer control.
RETURN_CHECK_WINDOW = 10  # a voter back from a payment page triggers at most one status check per 10 s
FORM_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CSP = ("default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; object-src 'none'")
FIELDS = ("candidate", "quantity", "provider", "msisdn")
LISTED = (VotingState.OPEN, VotingState.NOT_YET)  # the home page lists contests taking votes or about to
NOTICES = {VotingState.PAUSED: "voting_paused", VotingState.CLOSED: "voting_closed",
           VotingState.NOT_YET: "voting_not_open"}
# Who the board shows (as the JSON board does): eliminated candidates keep their place, hidden ones never show.


@dataclass(frozen=True)
class Page:
    """One request's language, and whether the visitor just chose it (then it is remembered)."""

    request: web.Request
    tr: Translator
    remember: bool


def page_for(request: web.Request, default_lang: str | None = None) -> Page:
    lang, remember = choose_language(request, default_lang)
    return Page(request, Translator(lang), remember)


def secure_cookies(request: web.Request) -> bool:
    return request.app[SETTINGS].public_base_url.startswith("https://")


def render(page: Page, template: str, context: Mapping[str, Any], status: int = 200,
           token: csrf.CsrfToken | None = None) -> web.Response:
    """A page with the shared context, security headers and the visitor's cookies."""
    tr = page.tr
    base = {"t": tr, "lang": tr.lang, "other_name": tr.other_name,
            "other_url": str(page.request.rel_url.update_query(lang=tr.other))}
    response = aiohttp_jinja2.render_template(template, page.request, {**base, **context}, status=status)
    response.headers.update({"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                             "Referrer-Policy": "same-origin", "Cache-Control": "no-store"})
    if page.remember:
        remember_language(response, tr.lang, secure_cookies(page.request))
    if token is not None:
        csrf.set_cookie(response, token, secure_cookies(page.request))
    response.enable_compression()
    return response


def message_page(page: Page, status: int, title: str, body: str, back_url: str = "/") -> web.Response:
    context = {"title": title, "body": body, "back_url": back_url}
    return render(page, "error.html", context, status=status)


def html_errors(handler: Handler) -> Handler:
    """An unexpected error on a page answers with a page, not the API's JSON."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception:
            log.exception("page %s %s failed", request.method, request.path)
            page = page_for(request)
            return message_page(page, 500, page.tr("error_title"), page.tr("error_body"))

    return wrapped


@dataclass(frozen=True)
class BoardRow:
    code: str
    name: str
    photo_url: str | None
    votes: int | None  # None when the organiser hides counts
    rank: int


def initials(name: str, code: str) -> str:
    """The avatar of a candidate without a photo: no image to download on 3G."""
    return "".join(word[0] for word in name.split()[:2]).upper() or code


def hue(code: str) -> int:
    return int(code) % 6 if code.isdigit() else 0


@dataclass(frozen=True)
class Board:
    """The board as the server renders it: the first paint, the no-JS page, the script's last resort."""

    rows: list[BoardRow]
    total: int | None
    frozen: bool
    hidden: bool
    sealed: bool = False


async def server_board(app: web.Application, contest: PublicContest, candidates: list[PublicCandidate]) -> Board:
    """The same board the JSON API and the stream serve (one ranking, one freeze rule), with photos."""
    photos = {candidate.code: candidate.photo_url for candidate in candidates}
    return board_rows(await app[VOTE_SERVICE].top(contest.id), photos)


def board_rows(top: BoardTop, photos: Mapping[str, str | None]) -> Board:
    if top.sealed:
        return Board([], None, False, False, sealed=True)
    show = top.show_counts
    rows = [BoardRow(row.candidate.code, row.candidate.name, photos.get(row.candidate.code),
                     row.votes if show else None, row.rank) for row in top.rows]
    total = sum(row.votes for row in top.rows) if show else None
    return Board(rows, total, top.frozen, not show)


@routes.get("/", name="public_index")
@html_errors
async def index(request: web.Request) -> web.StreamResponse:
    now = datetime.now(UTC)
    contests = [c for c in await request.app[VOTE_SERVICE].public_contests() if c.voting(now) in LISTED]
    return render(page_for(request), "index.html", {"contests": contests, "now": now})


@dataclass(frozen=True)
class VoteForm:
    """What the voter typed, kept as text so a refused form comes back as they left it."""

    candidate: str = ""
    quantity: str = "1"
    provider: str = ""
    msisdn: str = ""
    form_id: str = ""

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> VoteForm:
        def text(name: str) -> str:
            value = data.get(name, "")
            return value.strip()[:64] if isinstance(value, str) else ""

        return cls(*(text(name) for name in (*FIELDS, "form_id")))

    def renewed(self) -> VoteForm:
        """The same answers under a new form id: the next submission is a new vote."""
        return VoteForm(self.candidate, self.quantity, self.provider, self.msisdn, secrets.token_urlsafe(16))


def check_form(form: VoteForm, contest: PublicContest, candidates: list[PublicCandidate],
               tr: Translator) -> dict[str, str]:
    """Every field's problem at once (the core stops at the first)."""
    errors: dict[str, str] = {}
    if form.candidate not in {c.code for c in candidates}:
        errors["candidate"] = tr("err_candidate")
    if not form.quantity.isdecimal() or not 1 <= int(form.quantity) <= contest.max_votes_per_order:
        errors["quantity"] = tr("err_quantity", max=contest.max_votes_per_order)
    if form.provider not in contest.providers:
        errors["provider"] = tr("err_provider")
    elif form.provider in MOBILE_MONEY_PROVIDERS:
        if not form.msisdn:
            errors["msisdn"] = tr("err_msisdn_required")
        else:
            try:
                normalise_msisdn(form.msisdn)
            except InvalidMsisdn:
                errors["msisdn"] = tr("err_invalid_msisdn")
    return errors


def voting_notice(contest: PublicContest, now: datetime, tr: Translator) -> str | None:
    """Why the form is not shown, or None while votes are taken."""
    state = contest.voting(now)
    return None if state is VotingState.OPEN else tr(NOTICES[state])


def error_anchors(candidates: list[PublicCandidate], contest: PublicContest) -> dict[str, str]:
    """Where each field's error in the summary links to (the first radio of a group)."""
    return {"candidate": f"cand-{candidates[0].code}" if candidates else "vote",
            "provider": f"prov-{contest.providers[0]}" if contest.providers else "vote",
            "quantity": "quantity", "msisdn": "msisdn", "form": "vote"}


async def contest_response(page: Page, contest: PublicContest, candidates: list[PublicCandidate], form: VoteForm,
                           errors: Mapping[str, str], status: int = 200) -> web.Response:
    request = page.request
    token = csrf.issue(request, request.app[SETTINGS].secret_key.get_secret_value(), secure=secure_cookies(request))
    board = await server_board(request.app, contest, candidates)
    tr = page.tr
    page_data = {"lang": tr.lang, "strings": tr.js_strings(), "price": contest.price_per_vote,
                 "currency": contest.currency, "digits": tr.money_digits(contest.currency)}
    context = {"contest": contest, "candidates": candidates, "board": board, "form": form, "errors": errors,
               "ledger": await ledger_box(request.app, contest),
               "anchors": error_anchors(candidates, contest), "csrf_field": csrf.FIELD, "csrf": token.token,
               "notice": voting_notice(contest, datetime.now(UTC), tr), "page_data": page_data,
               "provider": form.provider or (contest.providers[0] if contest.providers else "")}
    return render(page, "contest.html", context, status=status, token=token)


async def ledger_box(app: web.Application, contest: PublicContest) -> dict[str, Any]:
    """The contest's latest ledger checkpoints and, once voting has closed, whether a signed sheet is out."""
    service = app[VOTE_SERVICE]
    published = service.results_published(contest, datetime.now(UTC))
    sheet = await service.results_sheet(contest.slug) if published else None
    # Sealed until close: a checkpoint's length would tell how many orders came in between two of them.
    return {"checkpoints": await service.checkpoints(contest.id), "results": sheet is not None,
            "sealed": contest.public_board() is PublicBoard.SEALED}


async def find_contest(request: web.Request) -> tuple[PublicContest, list[PublicCandidate]] | None:
    try:
        contest = await request.app[VOTE_SERVICE].contest(request.match_info["slug"])
    except NotFound:
        return None
    return contest, list(contest.candidates)


def contest_missing(request: web.Request, wants_json: bool = False) -> web.Response:
    page = page_for(request)
    if wants_json:
        return web.json_response({"errors": {"form": page.tr("contest_not_found")}}, status=404)
    return message_page(page, 404, page.tr("not_found_title"), page.tr("contest_not_found"))


@routes.get("/c/{slug}", name="contest_page")
@html_errors
async def contest_page(request: web.Request) -> web.StreamResponse:
    found = await find_contest(request)
    if found is None:
        return contest_missing(request)
    contest, candidates = found
    form = VoteForm(candidate=request.query.get("candidate", "")[:8]).renewed()
    return await contest_response(page_for(request, contest.default_language), contest, candidates, form, {})


@routes.get("/c/{slug}/board", name="contest_board")
@html_errors
async def board_page(request: web.Request) -> web.StreamResponse:
    """The board alone: the no-JS page frames it (it refreshes itself), the script's last resort reads it."""
    found = await find_contest(request)
    if found is None:
        return contest_missing(request)
    contest, candidates = found
    board = await server_board(request.app, contest, candidates)
    page = page_for(request, contest.default_language)
    return render(page, "board.html", {"contest": contest, "board": board})


@routes.get("/c/{slug}/vote")
async def vote_get(request: web.Request) -> web.StreamResponse:
    """Someone reloaded the address of a refused post: show the form again."""
    raise web.HTTPSeeOther(f"/c/{request.match_info['slug']}#vote")


def refusal(request: web.Request, status: int, key: str, wants_json: bool) -> web.Response:
    page = page_for(request)
    if wants_json:
        response = web.json_response({"errors": {"form": page.tr(f"{key}_body")}}, status=status)
    else:
        back = f"/c/{request.match_info['slug']}"
        response = message_page(page, status, page.tr(f"{key}_title"), page.tr(f"{key}_body"), back)
    if status == 429:
        response.headers["Retry-After"] = str(VOTE_WINDOW)
    return response


@routes.post("/c/{slug}/vote", name="contest_vote")
@html_errors
async def vote_post(request: web.Request) -> web.StreamResponse:
    """The vote form: a plain post answers with a redirect or the form again; the page's script
    posts the same form asking for JSON."""
    wants_json = "application/json" in request.headers.get("Accept", "")
    data = await request.post()
    app = request.app
    if not csrf.verify(request, data, app[SETTINGS].secret_key.get_secret_value(), secure=secure_cookies(request)):
        return refusal(request, 403, "csrf", wants_json)
    if not await throttle.hit(app[REDIS], vote_limit_key(request), VOTE_LIMIT, VOTE_WINDOW):
        return refusal(request, 429, "rate", wants_json)
    found = await find_contest(request)
    if found is None:
        return contest_missing(request, wants_json)
    contest, candidates = found
    page = page_for(request, contest.default_language)
    form = VoteForm.parse(data)
    errors = check_form(form, contest, candidates, page.tr)
    if errors:
        return await refused_form(page, contest, candidates, form, errors, 422, wants_json)
    try:
        placed = await place_vote(request, contest, form)
    except DomainError as exc:
        message = error_message(page.tr, exc.code, exc.field, exc.message,
                                {"max": contest.max_votes_per_order, "reason": exc.message})
        field = exc.field if exc.field in FIELDS else "form"
        return await refused_form(page, contest, candidates, form, {field: message}, exc.status, wants_json)
    order, started = placed.order, placed.started
    if started is not None and started.status is OrderStatus.FAILED:
        message = page.tr("err_payment_refused", reason=page.tr.reason(started.message))
        return await refused_form(page, contest, candidates, form.renewed(), {"provider": message}, 422, wants_json)
    redirect = started.redirect_url if started is not None and started.status is OrderStatus.PENDING else None
    if wants_json:
        return await vote_accepted(request, page, order.id, redirect)
    raise web.HTTPSeeOther(redirect or f"/orders/{order.id}")


async def place_vote(request: web.Request, contest: PublicContest, form: VoteForm) -> PlacedVote:
    """The same core call as the JSON API; the form's id makes a double submission one order."""
    form_id = form.form_id if FORM_ID.match(form.form_id) else None
    return await request.app[VOTE_SERVICE].place_vote(
        votes.OrderRequest(
            contest_slug=contest.slug, candidate_code=form.candidate, quantity=int(form.quantity),
            provider=form.provider, channel=Channel.WEB,
            msisdn=form.msisdn if form.provider in MOBILE_MONEY_PROVIDERS else None,
            client_key=f"webform:{contest.slug}:{form_id}" if form_id else None,
            voter_address=throttle.client_address(request),
        ),
        wait_for_room=True,
    )


async def refused_form(page: Page, contest: PublicContest, candidates: list[PublicCandidate], form: VoteForm,
                       errors: Mapping[str, str], status: int, wants_json: bool) -> web.Response:
    if wants_json:
        response = web.json_response({"errors": dict(errors)}, status=status)
    else:
        response = await contest_response(page, contest, candidates, form, errors, status=status)
    if status == 429:
        response.headers["Retry-After"] = str(VOTE_WINDOW)
    return response


async def vote_accepted(request: web.Request, page: Page, order_id: uuid.UUID, redirect: str | None) -> web.Response:
    view = await request.app[VOTE_SERVICE].order(order_id)
    summary = order_words(view, page.tr, needs_redirect(request, view))
    body = {"order": {"id": str(order_id), "reference": view.reference, "status": view.status},
            "next": {"action": "redirect" if redirect else "approve_on_phone", "url": redirect},
            "status_url": f"/orders/{order_id}", "poll_url": f"/orders/{order_id}/status?lang={page.tr.lang}",
            "summary": summary.as_json()}
    return web.json_response(body, status=201)


def needs_redirect(request: web.Request, view: VoterOrder) -> bool:
    return request.app[VOTE_SERVICE].needs_redirect(view)


async def find_order(request: web.Request) -> tuple[VoterOrder, PublicContest] | None:
    service = request.app[VOTE_SERVICE]
    try:
        view = await service.order(uuid.UUID(request.match_info["order_id"]))
    except (ValueError, NotFound):
        return None
    contest = await service.contest_of(view)
    return (view, contest) if contest is not None else None


async def check_on_return(request: web.Request, view: VoterOrder) -> None:
    """Back from a payment page: ask the provider now rather than wait for its notification."""
    order = view
    returning = "from" in request.query or "cancelled" in request.query
    if not returning or order.status is not OrderStatus.PENDING or order.payment_started_at is None:
        return
    if await throttle.hit(request.app[REDIS], f"web-order-check:{order.id}", 1, RETURN_CHECK_WINDOW,
                          if_unavailable=False):  # the reconciler checks it anyway
        request.app[CHECKS].request(order.id)


@routes.get("/orders/{order_id}", name="order_page")
@html_errors
async def order_page(request: web.Request) -> web.StreamResponse:
    found = await find_order(request)
    if found is None:
        page = page_for(request)
        return message_page(page, 404, page.tr("not_found_title"), page.tr("order_not_found"))
    view, contest = found
    await check_on_return(request, view)
    page = page_for(request, contest.default_language)
    cancelled = "cancelled" in request.query
    summary = order_words(view, page.tr, needs_redirect(request, view), cancelled)
    poll = f"/orders/{view.id}/status?lang={page.tr.lang}" + ("&cancelled=1" if cancelled else "")
    context = {"view": view, "contest": contest, "summary": summary, "reference": view.reference,
               "poll_url": poll}
    return render(page, "order.html", context)


@routes.get("/orders/{order_id}/status", name="order_status")
async def order_status(request: web.Request) -> web.StreamResponse:
    """The status page's words as JSON, in the page's language, for its script to poll."""
    found = await find_order(request)
    if found is None:
        return web.json_response({"error": {"code": "order_not_found"}}, status=404)
    view, contest = found
    page = page_for(request, contest.default_language)
    summary = order_words(view, page.tr, needs_redirect(request, view), "cancelled" in request.query)
    return web.json_response(summary.as_json(), headers={"Cache-Control": "no-store"})


async def static_cache(request: web.Request, response: web.StreamResponse) -> None:
    """Versioned static files never change: let cheap phones keep them."""
    if request.path.startswith("/static/") and "v" in request.query and response.status == 200:
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"


def setup(app: web.Application) -> None:
    """Templates, the static files (URLs carry a content hash) and the page routes."""
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"),
                               undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    static = app.router.add_static("/static/", HERE / "static", name="static", append_version=True)
    env.globals.update(initials=initials, hue=hue)
    env.globals["static"] = {name: str(static.url_for(filename=name)) for name in ("ballot.css", "ballot.js")}
    app.add_routes(routes)
    app.on_response_prepare.append(static_cache)
