"""The jury in the admin JSON API: a juror's contests and scores (`/api/v1/admin/jury`), and for the contest's
organiser its formula, its seats, how many jurors have scored (never a point) and the reveal
(`/api/v1/admin/contests/{id}/jury`). A juror's role holds `jury.score` alone: no order, no money, no contest page.

Revealing a closed contest's jury signs its results sheet again (`after_close`), so that the published sheet holds
the formula and each candidate's parts."""

from __future__ import annotations

import contextlib
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from admin.web import form_of, guarded
from gateway.core.audit import Actor
from gateway.core.contests import jury
from gateway.core.entered_number import entered_whole
from gateway.core.errors import DomainError
from gateway.core.results import signing
from gateway.core.results.blend import Blended, percent_number
from gateway.db.models import ContestStatus
from gateway.kit import overlay_cue
from gateway.kit.keys import REDIS, RESULTS_KEY, SESSIONS

routes = web.RouteTableDef()
API = "/api/v1/admin"
CONTEST = API + "/contests/{contest_id:[0-9]{1,9}}/jury"
# The API document's words for these paths (admin/openapi.py).
SUMMARIES = {
    "/jury": "Jurors: the contests whose jury you sit on, each candidate with your own points (null: not scored "
             "yet), the range of points, and whether the jury is revealed",
    "/jury/{contest_id}/scores": "Jurors: give points by candidate code ({\"points\": {\"01\": 7}}), each a whole "
                                 "number in the contest's range; all or none; once the contest has opened, until the "
                                 "reveal (409 after); audited without the points",
    "/contests/{contest_id}/jury": "The contest's jury: the formula, the range of points, the jurors seated and how "
                                   "many candidates each has scored (never a point); after the reveal, each "
                                   "candidate's parts and blended score, ranked",
    "/contests/{contest_id}/jury/jurors": "Seat a juror (email: an active account of the jury role); before the reveal",
    "/contests/{contest_id}/jury/jurors/remove": "Take a juror off the jury (email), their points with them; before "
                                                 "the reveal",
    "/contests/{contest_id}/jury/formula": "The formula (public_weight_pct: 0-100, the jury has the rest) and the "
                                           "range of points (min_points, max_points), while the contest is a draft; "
                                           "409 formula_locked once it has opened; audited",
    "/contests/{contest_id}/jury/reveal": "Reveal the jury's points ({\"confirm\": true}): public on the board, the "
                                          "overlay and the signed results from then on, and final; a closed "
                                          "contest's sheet is signed again; audited",
}


def cid(request: web.Request) -> int:
    return int(request.match_info["contest_id"])


def juror_contest_json(contest: jury.JurorContest) -> dict[str, Any]:
    return {"id": contest.id, "name": contest.name, "status": contest.status.value,
            "min_points": contest.min_points, "max_points": contest.max_points, "revealed": contest.revealed,
            "candidates": [{"code": c.code, "name": c.name, "points": c.points} for c in contest.candidates]}


def blended_json(row: Blended) -> dict[str, Any]:
    return {"code": row.code, "rank": row.rank, "votes": row.votes, "jury_points": row.points,
            "public_share_pct": percent_number(row.public_share), "jury_share_pct": percent_number(row.jury_share),
            "score_pct": percent_number(row.score)}


def jury_board_json(board: jury.JuryBoard) -> dict[str, Any]:
    """Before the reveal: who sits, how many candidates each has scored, and no point at all."""
    return {"contest": board.contest.id, "formula": board.formula.as_json(), "min_points": board.min_points,
            "max_points": board.max_points, "candidates": board.candidates,
            "jurors": [{"email": j.email, "scored": j.scored,
                        "done": board.candidates > 0 and j.scored >= board.candidates} for j in board.jurors],
            "jurors_done": board.done, "jurors_seated": len(board.jurors),
            "formula_editable": board.contest.status is ContestStatus.DRAFT,
            "revealed_at": board.revealed_at.isoformat() if board.revealed_at else None,
            "results": [blended_json(row) for row in board.blended] if board.blended is not None else None}


def whole_field(form: Any, name: str, default: int) -> int:
    value = form.get(name, default)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return entered_whole(str(value), name, high=jury.MAX_POINTS if name != "public_weight_pct" else 100)


async def announce(request: web.Request, contest_id: int) -> None:
    """Every web process reads the contest's board settings afresh and sends its board again, on the channel the
    control room's cues take (gateway.kit.overlay_cue): the reveal is on the board and the overlay within a second,
    with no vote needed. Redis away: they take it within their settings' short cache instead."""
    redis = request.app[REDIS]
    with contextlib.suppress(RedisError, OSError):
        await redis.publish(overlay_cue.channel_name(redis, contest_id), "jury")


async def after_reveal(request: web.Request, board: jury.JuryBoard, actor: Actor) -> None:
    await sign_if_closed(request, board, actor)
    await announce(request, board.contest.id)


async def sign_if_closed(request: web.Request, board: jury.JuryBoard, actor: Actor) -> None:
    """A closed contest's public sheet was signed before the reveal: sign it again with the jury's parts."""
    if board.contest.status is ContestStatus.CLOSED:
        await signing.sign_results(request.app[SESSIONS], request.app[RESULTS_KEY], board.contest.id,
                                   reason="after_close", signed_by=actor.email)


@routes.get(API + "/jury")
@guarded("jury.score")
async def my_contests(request: web.Request, actor: Actor) -> web.StreamResponse:
    contests = await jury.juror_contests(request.app[SESSIONS], actor)
    return web.json_response({"contests": [juror_contest_json(c) for c in contests]})


@routes.put(API + "/jury/{contest_id:[0-9]{1,9}}/scores")
@guarded("jury.score")
async def put_scores(request: web.Request, actor: Actor) -> web.StreamResponse:
    """{"points": {"01": 7, "02": 9}}: the juror's points by candidate code, all or none."""
    points = (await form_of(request)).get("points")
    if not isinstance(points, dict):
        raise DomainError("points must be an object of candidate codes and whole numbers.", code="invalid_field",
                          field="points")
    contest = await jury.score(request.app[SESSIONS], actor, cid(request), points)
    return web.json_response(juror_contest_json(contest))


@routes.get(CONTEST)
@guarded("contests.read")
async def contest_jury(request: web.Request, actor: Actor) -> web.StreamResponse:
    return web.json_response(jury_board_json(await jury.jury_board(request.app[SESSIONS], actor, cid(request))))


@routes.post(CONTEST + "/jurors")
@guarded("contests.write")
async def seat(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    await jury.seat_juror(request.app[SESSIONS], actor, cid(request), str(form.get("email", "")))
    return web.json_response(jury_board_json(await jury.jury_board(request.app[SESSIONS], actor, cid(request))),
                             status=201)


@routes.post(CONTEST + "/jurors/remove")
@guarded("contests.write")
async def unseat(request: web.Request, actor: Actor) -> web.StreamResponse:
    """{"email": …}: a juror off the jury before the reveal, their points with them."""
    form = await form_of(request)
    await jury.unseat_juror(request.app[SESSIONS], actor, cid(request), str(form.get("email", "")))
    return web.json_response(jury_board_json(await jury.jury_board(request.app[SESSIONS], actor, cid(request))))


@routes.put(CONTEST + "/formula")
@guarded("contests.write")
async def formula(request: web.Request, actor: Actor) -> web.StreamResponse:
    """{"public_weight_pct": 50, "min_points": 0, "max_points": 10}, while the contest is a draft (409 after)."""
    form = await form_of(request)
    low, high = jury.DEFAULT_RANGE
    await jury.set_formula(request.app[SESSIONS], actor, cid(request), whole_field(form, "public_weight_pct", 100),
                           whole_field(form, "min_points", low), whole_field(form, "max_points", high))
    return web.json_response(jury_board_json(await jury.jury_board(request.app[SESSIONS], actor, cid(request))))


@routes.post(CONTEST + "/reveal")
@guarded("contests.write")
async def reveal(request: web.Request, actor: Actor) -> web.StreamResponse:
    """{"confirm": true}: the jury's points become public, once and for good."""
    form = await form_of(request)
    board = await jury.reveal(request.app[SESSIONS], actor, cid(request), confirmed=form.get("confirm") is True)
    await after_reveal(request, board, actor)
    return web.json_response(jury_board_json(board))
