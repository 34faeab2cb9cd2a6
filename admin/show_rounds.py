"""A show's rounds and its lines from the admin area: the organiser plans rounds and decides who goes through; from
the control room a producer opens a round's lines and closes them on air, now or after a countdown, each with a
confirmation. The same operations under /api/v1/admin/ (where the Bearer call is itself the confirmation).

A change of the lines is announced on the overlay's channel, so every board and overlay on the stream is sent again
at once with the new close (its countdown)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy import select

from admin import money_fields, tier_fields
from admin.accounts import allowed
from admin.texts import language_of
from admin.web import form_of, guarded, is_api
from gateway.core.audit import Actor
from gateway.core.contests import round_rules, rounds
from gateway.core.contests.catalog import PUBLIC_STATUSES
from gateway.core.contests.price_tiers import parse_tiers
from gateway.core.contests.scope import contest_in_scope, visible_to
from gateway.core.entered_number import entered_whole
from gateway.core.errors import Conflict, DomainError
from gateway.core.results import round_sheets, signing
from gateway.core.texts import N_
from gateway.db.models import Contest, ContestRound, ContestStatus, RoundStatus
from gateway.kit.keys import REDIS, RESULTS_KEY, SESSIONS
from gateway.kit.overlay_cue import CUE_CHANNELS

routes = web.RouteTableDef()
PERMISSION = "contests.write"
API = "/api/v1/admin/contests/{contest_id:[0-9]{1,9}}"
TEXTS = (N_("Lines"), N_("Round"), N_("Lines open"), N_("Lines closed"), N_("Lines close at %(time)s UTC"),
         N_("Open the lines of round %(number)s (%(name)s)"), N_("Close the lines now"),
         N_("Close the lines after a countdown of"), N_("seconds"), N_("I confirm: this goes on air"),
         N_("No round planned"), N_("Tick the confirmation first: this goes on air."))


SUMMARIES = {
    "/contests/{contest_id}/rounds": "A show's rounds (GET: each with its board, and the tie rule); POST plans the "
                                     "next one: name, price (major units, as typed), closes_at (ISO 8601 with its "
                                     "offset: the latest its lines close), carry_counts, price_tiers (minor units); "
                                     "a price or bundle one of the contest's providers cannot charge is refused "
                                     "(400 price_not_chargeable), as the contest's own",
    "/contests/{contest_id}/rounds/{number}/open": "Lines are open: the round's terms become the contest's on every "
                                                   "channel; the earlier rounds must be decided; audited",
    "/contests/{contest_id}/lines/close": "Lines are closed: now (countdown_seconds 0) or after a countdown of up to "
                                          "1800 s that every board and overlay shows; no vote is taken from that "
                                          "instant on any channel; audited",
    "/contests/{contest_id}/rounds/{number}/decide": "Who goes through, once the late payments' grace has passed "
                                                     "(409 late_payments_may_count before): places (the first ones "
                                                     "by the round's result, ties at the cut all through) or through "
                                                     "(codes, with commas) and reason; the others are eliminated, "
                                                     "the round's results signed; audited",
}


class Unconfirmed(DomainError):
    status = 400
    code = "confirmation_needed"


def round_json(row: ContestRound, currency: str) -> dict[str, Any]:
    return {"number": row.number, "name": row.name, "status": row.status.value,
            "price_per_vote": row.price_per_vote, "price_display": money_fields.shown_major(row.price_per_vote,
                                                                                          currency),
            "closes_at": row.closes_at.isoformat(), "carry_counts": row.carry_counts, "price_tiers": row.price_tiers,
            "opened_at": row.opened_at.isoformat() if row.opened_at else None,
            "decided_at": row.decided_at.isoformat() if row.decided_at else None,
            "decided_by": row.decided_by, "decision_reason": row.decision_reason}


def board_json(board: rounds.RoundBoard) -> list[dict[str, Any]]:
    return [{"code": r.candidate.code, "name": r.candidate.name, "votes": r.votes, "rank": r.rank,
             "went_through": (r.candidate.id in board.through) if board.round.decided_at else None}
            for r in board.ranked]


def contest_id(request: web.Request) -> int:
    return int(request.match_info["contest_id"])


def parse_plan(form: Mapping[str, Any], currency: str, lang: str) -> round_rules.RoundPlan:
    try:
        closes_at = datetime.fromisoformat(str(form.get("closes_at", "")).strip())
    except ValueError:
        raise DomainError("closes_at: a date and time such as 2026-12-05T21:00:00+01:00.", code="invalid_field",
                          field="closes_at") from None
    if closes_at.tzinfo is None:
        raise DomainError("closes_at: say its time zone (e.g. +01:00 or Z).", code="invalid_field", field="closes_at")
    price = money_fields.typed_minor(form.get("price"), currency, "price", lang)
    carry = form.get("carry_counts") is True or str(form.get("carry_counts", "")).lower() in ("1", "true", "on", "yes")
    tiers = parse_tiers(form.get("price_tiers"))  # minor units, as the contest's in the API
    return round_rules.RoundPlan(str(form.get("name", "")), price, closes_at.astimezone(UTC), carry, tiers)


def chargeable_terms(request: web.Request) -> rounds.TermsCheck:
    """A round's price and bundles refused as the contest's form refuses the contest's own (money_fields.check_prices,
    tier_fields.check_tier_prices), by the contest's providers in its currency: they become the contest's when the
    round opens, and a price M-Pesa or a card cannot charge would fail every order of the round on air."""
    def check(contest: Contest, plan: round_rules.RoundPlan) -> None:
        money_fields.check_price(request, plan.price_per_vote, contest.currency, contest.max_votes_per_order,
                                 contest.providers)
        tier_fields.check_bundles(request, plan.price_tiers, contest.currency, contest.providers)
    return check


@routes.get(API + "/rounds")
@guarded("contests.read")
async def list_rounds(request: web.Request, actor: Actor) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        contest = await contest_in_scope(session, actor, contest_id(request))
        body = []
        for row in await rounds.rounds_of(session, contest.id):
            board = await rounds.round_board(session, row) if row.status is not RoundStatus.PLANNED else None
            body.append({**round_json(row, contest.currency), "board": board_json(board) if board else []})
    return web.json_response({"contest_id": contest.id, "tie_rule": round_rules.TIE_RULE, "rounds": body})


@routes.post(API + "/rounds")
@guarded(PERMISSION)
async def plan_round(request: web.Request, actor: Actor) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        currency = (await contest_in_scope(session, actor, contest_id(request))).currency
    plan = parse_plan(await form_of(request), currency, language_of(request))
    row = await rounds.plan_round(request.app[SESSIONS], actor, contest_id(request), plan,
                                  chargeable=chargeable_terms(request))
    return web.json_response(round_json(row, currency), status=201)


@routes.post(API + "/rounds/{number:[0-9]{1,4}}/decide")
@guarded(PERMISSION)
async def decide_round(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    through = form.get("through")
    codes = [c.strip() for c in str(through).split(",") if c.strip()] if through is not None else None
    places = None if codes is not None else entered_whole(str(form.get("places", "")), "places", high=10_000)
    number = int(request.match_info["number"])
    board, sheet = await decide_and_sign(request.app, actor, contest_id(request), number, places=places,
                                         by_hand=codes, reason=form.get("reason"))
    return web.json_response({"number": board.round.number, "decided_by": board.round.decided_by,
                              "decision_reason": board.round.decision_reason, "board": board_json(board),
                              "sheet_id": sheet.id})


async def decide_and_sign(app: web.Application, actor: Actor, contest: int, number: int, *, places: int | None = None,
                          by_hand: list[str] | None = None,
                          reason: str | None = None) -> tuple[rounds.RoundBoard, signing.SignedSheet]:
    """Decide the round and sign its results at once: the round's result is final, and its candidates' certificates
    are made from that sheet. A round decided whose signing failed is signed on the next try."""
    try:
        board = await rounds.decide_round(app[SESSIONS], actor, contest, number, places=places, by_hand=by_hand,
                                          reason=reason)
    except Conflict:
        unsigned = await rounds.decided_unsigned(app[SESSIONS], actor, contest, number)
        if unsigned is None:
            raise
        board = unsigned
    return board, await round_sheets.sign_round(app[SESSIONS], app[RESULTS_KEY], contest, number,
                                                signed_by=actor.email)


def confirmed(request: web.Request, form: Mapping[str, Any]) -> None:
    """A page's on-air action needs its confirmation ticked; an API call is deliberate by itself."""
    if not is_api(request) and str(form.get("confirm", "")) not in ("1", "on", "yes"):
        raise Unconfirmed("Tick the confirmation first: this goes on air.", field="confirm")


async def announce(request: web.Request, contest: int) -> None:
    """Every board and overlay on the stream is sent again with the new close (its countdown); the close itself
    holds without it (placing reads the contest row)."""
    redis = request.app[REDIS]
    try:
        await redis.publish(CUE_CHANNELS.name(redis, contest), "lines")
    except (RedisError, OSError):
        pass  # the boards show the close at their next frame


def done(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    if is_api(request):
        return web.json_response(body)
    raise web.HTTPSeeOther("/admin/control#lines")


@routes.post(API + "/rounds/{number:[0-9]{1,4}}/open")
@routes.post(r"/admin/control/lines/{contest_id:[0-9]{1,9}}/open/{number:[0-9]{1,4}}")
@guarded(PERMISSION)
async def open_round(request: web.Request, actor: Actor) -> web.StreamResponse:
    confirmed(request, await form_of(request))
    row = await rounds.open_round(request.app[SESSIONS], actor, contest_id(request), int(request.match_info["number"]))
    await announce(request, contest_id(request))
    return done(request, {"number": row.number, "status": row.status.value, "closes_at": row.closes_at.isoformat()})


@routes.post(API + "/lines/close")
@routes.post(r"/admin/control/lines/{contest_id:[0-9]{1,9}}/close")
@guarded(PERMISSION)
async def close_lines(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    confirmed(request, form)
    countdown = entered_whole(str(form.get("countdown_seconds") or "0"), "countdown_seconds",
                              high=int(rounds.MAX_COUNTDOWN.total_seconds()))
    closes_at = await rounds.close_lines(request.app[SESSIONS], actor, contest_id(request), countdown)
    await announce(request, contest_id(request))
    return done(request, {"contest_id": contest_id(request), "closes_at": closes_at.isoformat()})


@dataclass(frozen=True)
class LinesPanel:
    """A live contest as the control room's lines panel shows it."""

    id: int
    name: str
    open_now: bool
    closes_at: datetime
    round_name: str | None
    next_round: ContestRound | None


async def lines_panels(app: web.Application, actor: Actor) -> list[LinesPanel]:
    """The contests the producer may act on: their lines now and the next round they may open."""
    if not allowed(actor.role, PERMISSION):
        return []
    now = datetime.now(UTC)
    panels = []
    async with app[SESSIONS]() as session:
        contests = (await session.scalars(select(Contest).where(visible_to(actor), Contest.status.in_(
            (*PUBLIC_STATUSES, ContestStatus.DRAFT))).order_by(Contest.id))).all()
        for contest in contests:
            all_rounds = await rounds.rounds_of(session, contest.id)
            current = next((r for r in all_rounds if r.id == contest.current_round_id), None)
            planned = next((r for r in all_rounds if r.status is RoundStatus.PLANNED), None)
            open_now = contest.status is ContestStatus.OPEN and contest.opens_at <= now < contest.closes_at
            if all_rounds or open_now:
                panels.append(LinesPanel(contest.id, contest.name, open_now, contest.closes_at,
                                         current.name if current else None, planned))
    return panels


def setup(app: web.Application) -> None:
    app.add_routes(routes)
