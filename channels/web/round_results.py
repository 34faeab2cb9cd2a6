"""A round's signed results sheet and its signature, public once the round is decided: the same check as the
contest's (`gateway results verify`, or any Ed25519 tool with the key at /.well-known/ballot-results-key)."""

from __future__ import annotations

from aiohttp import web

from gateway.core.errors import NotFound
from gateway.core.results import round_sheets, signing
from gateway.kit.keys import SESSIONS

routes = web.RouteTableDef()


async def decided_sheet(request: web.Request) -> signing.SignedSheet:
    number = int(request.match_info["number"])
    sheet = await round_sheets.round_sheet(request.app[SESSIONS], request.match_info["slug"], number)
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
