"""A contest's rounds in the admin area: plan the next round, see each round's board, decide who goes through (by the
round's result or by hand with a reason). Opening and closing the lines is the control room's (admin.show_rounds)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from aiohttp import web

from admin import money_fields, tier_fields
from admin.accounts import allowed
from admin.pages.contests import contest_id
from admin.pages.rendering import render, see_other
from admin.show_rounds import chargeable_terms, decide_and_sign
from admin.texts import language_of
from admin.web import form_of, guarded
from gateway.core.audit import Actor
from gateway.core.contests import round_rules, rounds
from gateway.core.contests.price_tiers import tiers_of
from gateway.core.contests.scope import contest_in_scope
from gateway.core.errors import DomainError
from gateway.core.market import local_moment
from gateway.db.models import RoundStatus
from gateway.kit.keys import SESSIONS

routes = web.RouteTableDef()
PAGE = "/admin/contests/{contest_id:[0-9]{1,9}}/rounds"


async def page(request: web.Request, actor: Actor, error: str | None = None, status: int = 200,
               typed: Mapping[str, object] | None = None) -> web.Response:
    """The rounds, and the form to plan the next one (refused, with what the organiser typed in it again)."""
    async with request.app[SESSIONS]() as session:
        contest = await contest_in_scope(session, actor, contest_id(request))
        shown = []
        for row in await rounds.rounds_of(session, contest.id):
            board = await rounds.round_board(session, row) if row.status is not RoundStatus.PLANNED else None
            shown.append((row, board))
    return render(request, "rounds.html", {"contest": contest, "rounds": shown, "error": error,
                                           "tier_rows": tier_fields.ROWS,
                                           "can_write": allowed(actor.role, "contests.write"),
                                           "tie_rule": round_rules.TIE_RULE,
                                           "typed": {key: str(value) for key, value in (typed or {}).items()
                                                     if key != "csrf_token"}}, actor, status=status)


@routes.get(PAGE)
@guarded("contests.read")
async def rounds_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    return await page(request, actor)


@routes.post(PAGE)
@guarded("contests.write")
async def plan_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    async with request.app[SESSIONS]() as session:
        contest = await contest_in_scope(session, actor, contest_id(request))
    try:
        try:  # a datetime-local field: the contest's own clock
            closes_at = local_moment(datetime.fromisoformat(str(form.get("closes_at", ""))), contest.time_zone)
        except ValueError:
            raise DomainError("Say when the round's lines close at the latest.", field="closes_at") from None
        price = money_fields.typed_minor(form.get("price"), contest.currency, "price", language_of(request))
        carry = form.get("carry_counts") in ("1", "on")
        lang = language_of(request)
        tiers = tiers_of(tier_fields.tiers_in_minor({**form, "currency": contest.currency}, lang))
        try:
            await rounds.plan_round(request.app[SESSIONS], actor, contest.id,
                                    round_rules.RoundPlan(str(form.get("name", "")), price, closes_at, carry, tiers),
                                    chargeable=chargeable_terms(request))
        except DomainError as exc:
            raise tier_fields.shown(exc, contest.currency, lang) from None
    except DomainError as exc:
        return await page(request, actor, exc.message, 400, typed=form)
    raise see_other(f"/admin/contests/{contest.id}/rounds")


@routes.post(PAGE + "/{number:[0-9]{1,4}}/decide")
@guarded("contests.write")
async def decide_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    number = int(request.match_info["number"])
    codes = [c.strip() for c in str(form.get("through", "")).split(",") if c.strip()]
    try:
        if form.get("by") == "hand":
            await decide_and_sign(request.app, actor, contest_id(request), number, by_hand=codes,
                                  reason=form.get("reason"))
        else:
            places = str(form.get("places", ""))
            if not places.isdigit():
                raise DomainError("How many candidates go through?", field="places")
            await decide_and_sign(request.app, actor, contest_id(request), number, places=int(places))
    except DomainError as exc:
        return await page(request, actor, exc.message, 400 if exc.status < 500 else exc.status)
    raise see_other(f"/admin/contests/{contest_id(request)}/rounds")
