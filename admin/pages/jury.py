"""The jury's pages: a juror's own (`/admin/jury`: the contests they sit on, their points and nobody else's) and
the organiser's (`/admin/contests/{id}/jury`: the formula while a draft, the seats, how many jurors have scored, the
confirmed reveal and, after it, each candidate's parts). The same operations as admin/jury.py's JSON API."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from aiohttp import web

from admin import texts
from admin.accounts import allowed
from admin.jury import after_reveal, whole_field
from admin.pages.rendering import render, see_other
from admin.web import form_of, guarded
from gateway.core.audit import Actor
from gateway.core.contests import jury
from gateway.core.errors import DomainError
from gateway.core.results.blend import percent_text
from gateway.core.texts import N_
from gateway.db.models import ContestStatus
from gateway.kit.keys import SESSIONS

routes = web.RouteTableDef()
CONTEST = "/admin/contests/{contest_id:[0-9]{1,9}}/jury"
NOTICES = {"saved": N_("Your points are saved."), "formula": N_("The formula is saved."),
           "seated": N_("The juror is seated."), "unseated": N_("The juror is off the jury."),
           "revealed": N_("The jury's points are revealed.")}


def cid(request: web.Request) -> int:
    return int(request.match_info["contest_id"])


def notice(request: web.Request, lang_text: Any) -> str | None:
    key = request.query.get("done", "")
    return lang_text(NOTICES[key]) if key in NOTICES else None


async def juror_page(request: web.Request, actor: Actor, error: str | None = None, status: int = 200) -> web.Response:
    contests = await jury.juror_contests(request.app[SESSIONS], actor)
    translate = texts.gettext_for(texts.language_of(request))
    return render(request, "jury.html", {"contests": contests, "error": error, "notice": notice(request, translate)},
                  actor, status=status)


@routes.get("/admin/jury")
@guarded("signed_in")
async def my_jury(request: web.Request, actor: Actor) -> web.StreamResponse:
    """Every account may open it; only a juror sits on a jury (the others read that they sit on none)."""
    return await juror_page(request, actor)


@routes.post("/admin/jury/{contest_id:[0-9]{1,9}}/scores")
@guarded("jury.score")
async def post_scores(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    points = {str(name).removeprefix("points."): value for name, value in form.items()
              if str(name).startswith("points.") and str(value).strip() != ""}
    try:
        await jury.score(request.app[SESSIONS], actor, cid(request), points)
    except DomainError as exc:
        return await juror_page(request, actor, exc.message, exc.status)
    raise see_other(f"/admin/jury?done=saved#jury-{cid(request)}")


def percenter(lang: str) -> Callable[[Fraction], str]:
    """A share as the organiser's language writes it: `60.00%`, `60,00 %`."""
    def percent(value: Fraction) -> str:
        return percent_text(value).replace(".", ",") + "\u202f%" if lang == "fr" else percent_text(value) + "%"
    return percent


async def organiser_page(request: web.Request, actor: Actor, error: str | None = None,
                         status: int = 200) -> web.Response:
    board = await jury.jury_board(request.app[SESSIONS], actor, cid(request))
    translate = texts.gettext_for(texts.language_of(request))
    return render(request, "contest_jury.html", {
        "contest": board.contest, "board": board, "percent": percenter(texts.language_of(request)),
        "can_write": allowed(actor.role, "contests.write"),
        "editable": allowed(actor.role, "contests.write") and board.contest.status is ContestStatus.DRAFT,
        "error": error, "notice": notice(request, translate)}, actor, status=status)


@routes.get(CONTEST)
@guarded("contests.read")
async def contest_jury(request: web.Request, actor: Actor) -> web.StreamResponse:
    return await organiser_page(request, actor)


@routes.post(CONTEST + "/formula")
@guarded("contests.write")
async def post_formula(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    try:
        low, high = jury.DEFAULT_RANGE
        await jury.set_formula(request.app[SESSIONS], actor, cid(request),
                               whole_field(form, "public_weight_pct", 100), whole_field(form, "min_points", low),
                               whole_field(form, "max_points", high))
    except DomainError as exc:
        return await organiser_page(request, actor, exc.message, exc.status)
    raise see_other(f"/admin/contests/{cid(request)}/jury?done=formula")


@routes.post(CONTEST + "/jurors")
@guarded("contests.write")
async def post_juror(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    try:
        await jury.seat_juror(request.app[SESSIONS], actor, cid(request), str(form.get("email", "")))
    except DomainError as exc:
        return await organiser_page(request, actor, exc.message, exc.status)
    raise see_other(f"/admin/contests/{cid(request)}/jury?done=seated")


@routes.post(CONTEST + "/jurors/remove")
@guarded("contests.write")
async def post_unseat(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    try:
        await jury.unseat_juror(request.app[SESSIONS], actor, cid(request), str(form.get("email", "")))
    except DomainError as exc:
        return await organiser_page(request, actor, exc.message, exc.status)
    raise see_other(f"/admin/contests/{cid(request)}/jury?done=unseated")


@routes.post(CONTEST + "/reveal")
@guarded("contests.write")
async def post_reveal(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    try:
        board = await jury.reveal(request.app[SESSIONS], actor, cid(request), confirmed=form.get("confirm") == "yes")
    except DomainError as exc:
        return await organiser_page(request, actor, exc.message, exc.status)
    await after_reveal(request, board, actor)
    raise see_other(f"/admin/contests/{cid(request)}/jury?done=revealed")
