"""The public pages: open contests, one contest with its live board and vote form. Plain HTML forms that work
without JavaScript; static/ballot.js makes them live. A vote's status page is `order_pages`."""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup

from channels.web import csrf, order_pages, vote_limits
from channels.web.board_view import server_board, share_text
from channels.web.bundle_texts import bundle_labels
from channels.web.i18n import (
    Translator,
    error_message,
)
from channels.web.market_texts import TAKES_CODES, contest_takes, msisdn_hint
from channels.web.monogram import initials, tone
from channels.web.order_pages import vote_accepted
from channels.web.pictures import picture_globals
from channels.web.rendering import Page, html_errors, message_page, page_for, render, secure_cookies
from channels.web.share import contest_share
from channels.web.static_files import add_static
from channels.web.vote_limits import VOTE_WINDOW
from gateway.core.contests.catalog import PublicCandidate, PublicContest
from gateway.core.contests.ranking import PublicBoard
from gateway.core.contests.rules import VotingState
from gateway.core.errors import DomainError, NotFound
from gateway.core.orders import free_votes, placing
from gateway.core.phone import InvalidMsisdn, normalise_msisdn
from gateway.core.providers import Capability
from gateway.core.service import VOTE_SERVICE, PlacedVote
from gateway.db.models import OrderStatus
from gateway.kit import throttle
from gateway.kit.compiled_templates import CompiledTemplates
from gateway.kit.keys import PROVIDERS, SESSIONS, SETTINGS

routes = web.RouteTableDef()
HERE = Path(__file__).parent
# The pages' templates compiled once a process, whichever app renders them first: compiled code only, no app's state.
COMPILED = CompiledTemplates()

# Form posts per client address per minute. Generous on purpose: mobile carriers put many phones
# behind one address; the per-number limits of the core are the finer control.
FORM_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
FIELDS = ("candidate", "quantity", "provider", "msisdn")
LISTED = (VotingState.OPEN, VotingState.NOT_YET)  # the home page lists contests taking votes or about to
NOTICES = {VotingState.PAUSED: "voting_paused", VotingState.CLOSED: "voting_closed",
           VotingState.NOT_YET: "voting_not_open"}


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


def check_form(form: VoteForm, contest: PublicContest, candidates: list[PublicCandidate], tr: Translator,
               phone_paid: Collection[str], takes: str = "") -> dict[str, str]:
    """Every field's problem at once (the core stops at the first); `phone_paid`: the providers that charge a
    phone's wallet, which need its number; `takes`: what the contest takes, the answer to a provider it does not."""
    errors: dict[str, str] = {}
    if form.candidate not in {c.code for c in candidates}:
        errors["candidate"] = tr("err_candidate")
    if not form.quantity.isdecimal() or not 1 <= int(form.quantity) <= contest.max_votes_per_order:
        errors["quantity"] = tr("err_quantity", max=contest.max_votes_per_order)
    if form.provider not in contest.providers:
        errors["provider"] = takes if form.provider and takes else tr("err_provider")
    elif form.provider in phone_paid:
        if not form.msisdn:
            errors["msisdn"] = tr("err_msisdn_required")
        else:
            try:
                normalise_msisdn(form.msisdn, contest.country)
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


def vote_form_context(page: Page, contest: PublicContest, candidates: list[PublicCandidate], form: VoteForm,
                      errors: Mapping[str, str]) -> tuple[dict[str, Any], csrf.CsrfToken]:
    """What _vote_form.html needs (the contest page's form, and a candidate's page's with only them), with the
    CSRF token the response sets."""
    request, tr = page.request, page.tr
    providers = request.app[PROVIDERS]
    token = csrf.issue(request, request.app[SETTINGS].secret_key.get_secret_value(), secure=secure_cookies(request))
    page_data = {"lang": tr.lang, "strings": tr.js_strings(), "price": contest.price_per_vote,
                 "currency": contest.currency, "digits": tr.money_digits(contest.currency),
                 "tiers": {str(tier.votes): tier.amount for tier in contest.price_tiers}}  # a bundle's total
    # A vote started from a candidate's card (`?candidate=`, or a refused form's choice): the form goes on with them
    # alone, the number of votes and the payment next; the whole list is one link away.
    shown = [c for c in candidates if c.code == form.candidate] or candidates
    context = {"contest": contest, "candidates": candidates, "form": form, "errors": errors,
               "shown_candidates": shown, "chosen": len(shown) == 1 and len(candidates) > 1,
               "anchors": error_anchors(candidates, contest), "csrf_field": csrf.FIELD, "csrf": token.token,
               "bundles": bundle_labels(tr, contest),
               "notice": voting_notice(contest, datetime.now(UTC), tr), "page_data": page_data,
               "provider": form.provider or (contest.providers[0] if contest.providers else ""),
               "phone_paid": providers.having(Capability.PHONE_PROMPT),
               "msisdn_hint": msisdn_hint(tr, contest, providers),
               "redirect_hint": any(Capability.REDIRECT in providers.capabilities(p) for p in contest.providers)}
    return context, token


async def contest_response(page: Page, contest: PublicContest, candidates: list[PublicCandidate], form: VoteForm,
                           errors: Mapping[str, str], status: int = 200) -> web.Response:
    request = page.request
    context, token = vote_form_context(page, contest, candidates, form, errors)
    context.update(board=await server_board(request.app, contest, candidates),
                   ledger=await ledger_box(request.app, contest), share=contest_share(request, contest, page.tr),
                   free_votes=await free_votes.free_terms(request.app[SESSIONS], contest.slug))
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
        contest = await request.app[VOTE_SERVICE].contest(request.match_info["slug"], clips=True)
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
    form = VoteForm.parse(data)
    if form.msisdn:  # read as the contest's voters write numbers (`0712 000 102` on a Kenyan contest)
        form = replace(form, msisdn=await app[VOTE_SERVICE].payer_number(request.match_info["slug"], form.msisdn)
                       or form.msisdn)
    phone_paid = app[PROVIDERS].having(Capability.PHONE_PROMPT)
    if await vote_limits.spent_allowance(request, msisdn=payer_number(form, phone_paid), browser=browser_of(request)):
        return refusal(request, 429, "rate", wants_json)
    found = await find_contest(request)
    if found is None:
        return contest_missing(request, wants_json)
    contest, candidates = found
    page = page_for(request, contest.default_language)
    takes = contest_takes(page.tr, contest, app[PROVIDERS])
    errors = check_form(form, contest, candidates, page.tr, phone_paid, takes)
    if errors:
        return await refused_form(page, contest, candidates, form, errors, 422, wants_json)
    try:
        placed = await place_vote(request, contest, form)
    except DomainError as exc:
        message = takes if exc.code in TAKES_CODES else error_message(
            page.tr, exc.code, exc.field, exc.message, {"max": contest.max_votes_per_order, "reason": exc.message})
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
        placing.OrderRequest(
            contest_slug=contest.slug, candidate_code=form.candidate, quantity=int(form.quantity),
            provider=form.provider, channel="web",
            msisdn=payer_number(form, request.app[PROVIDERS].having(Capability.PHONE_PROMPT)),
            client_key=f"webform:{contest.slug}:{form_id}" if form_id else None,
            voter_address=throttle.client_address(request),
            voter_ref=browser_of(request),
        ),
        wait_for_room=True,
    )


def payer_number(form: VoteForm, phone_paid: Collection[str]) -> str | None:
    """The number that pays, as typed: a mobile money vote's (`phone_paid`: its providers); a card's has none."""
    return form.msisdn if form.provider in phone_paid else None


def browser_of(request: web.Request) -> str | None:
    """The voter's browser, as the fraud rules and the vote limits count it (`csrf.browser_of`)."""
    return csrf.browser_of(request, request.app[SETTINGS].secret_key.get_secret_value(), secure=secure_cookies(request))


async def refused_form(page: Page, contest: PublicContest, candidates: list[PublicCandidate], form: VoteForm,
                       errors: Mapping[str, str], status: int, wants_json: bool) -> web.Response:
    if wants_json:
        response = web.json_response({"errors": dict(errors)}, status=status)
    else:
        response = await contest_response(page, contest, candidates, form, errors, status=status)
    if status == 429:
        response.headers["Retry-After"] = str(VOTE_WINDOW)
    return response



def unbroken(text: str) -> Markup:
    """A name for a page, each word kept whole (`.nw`: no break inside, not even at a hyphen): it wraps between words
    only, and a word too long for its box is cut with an ellipsis (ballot.css)."""
    return Markup(" ").join(Markup('<span class="nw">{}</span>').format(word) for word in text.split())


def setup(app: web.Application) -> None:
    """Templates, the static files (URLs carry a content hash: static_files) and the page routes."""
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"), bytecode_cache=COMPILED,
                               undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    static = add_static(app, HERE / "static")
    env.filters["unbroken"] = unbroken
    env.globals.update(initials=initials, tone=tone, share_text=share_text, static=static,
                       static_url=static.url, **picture_globals(app))
    app.add_routes(routes)
    app.add_routes(order_pages.routes)
