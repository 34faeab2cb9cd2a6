"""A round's signed results sheet and its signature, public once the round is decided (a sealed contest's once the
contest is closed, as its board): the same check as the contest's (`gateway results verify`, or any Ed25519 tool
with the key at /.well-known/ballot-results-key)."""

from __future__ import annotations

from aiohttp import web

from gateway.core.contests.ranking import PublicBoard
from gateway.core.errors import NotFound
from gateway.core.results import round_sheets, signing
from gateway.core.service import VOTE_SERVICE
from gateway.kit.keys import SESSIONS

routes = web.RouteTableDef()


async def decided_sheet(request: web.Request) -> signing.SignedSheet:
    number = int(request.match_info["number"])
    contest = await request.app[VOTE_SERVICE].contest(request.match_info["slug"])
    if contest.public_board() is PublicBoard.SEALED:  # its counts would unseal the board on the show's night
        raise NotFound("This contest's results are sealed until it closes: each round's are published then.",
                       code="results_not_published")
    sheet = await round_sheets.round_sheet(request.app[SESSIONS], contest.slug, number)
    if sheet is None:
        raise NotFound("A round's results are published once it is decided.", code="results_not_published")
    return sheet


@routes.get("/c/{slug}/rounds/{number:[0-9]{1,4}}/results.csv")
async def round_csv(request: web.Request) -> web.Response:
    sheet = await decided_sheet(request)
    name = f"{sheet.contest_slug}-round-{request.match_info['number']}-results.csv"
    return web.Response(body=sheet.sheet, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


@routes.get("/c/{slug}/rounds/{number:[0-9]{1,4}}/results.csv.sig")
async def round_signature(request: web.Request) -> web.Response:
    sheet = await decided_sheet(request)
    name = f"{sheet.contest_slug}-round-{request.match_info['number']}-results.csv.sig"
    return web.Response(body=sheet.signature, content_type="text/plain",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


def setup(app: web.Application) -> None:
    app.add_routes(routes)
