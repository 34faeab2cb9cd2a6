"""Signed results in the admin area: the public key, a contest's signed sheets and, for owners and
auditors, signing the results now (audited). Pages under /admin/, the same under /api/v1/admin/."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from admin.accounts import allowed
from admin.pages.contests import contest_id
from admin.pages.rendering import render, see_other
from admin.web import guarded
from gateway.core.audit import Actor
from gateway.core.contests import contests_admin
from gateway.core.results import signing
from gateway.core.results.signing import SignedSheet
from gateway.kit.keys import RESULTS_KEY, SESSIONS

routes = web.RouteTableDef()
CONTEST = "/admin/contests/{contest_id:[0-9]{1,9}}"
API_CONTEST = "/api/v1/admin/contests/{contest_id:[0-9]{1,9}}"


def public_pem(request: web.Request) -> str:
    return signing.public_pem(request.app[RESULTS_KEY].public_key())


@routes.get(CONTEST + "/results")
@guarded("contests.read")
async def results_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    detail = await contests_admin.contest_detail(request.app[SESSIONS], actor, contest_id(request))
    sheets = await signing.sheets_of(request.app[SESSIONS], detail.contest.id)
    return render(request, "results.html", {
        "contest": detail.contest, "sheets": sheets, "public_pem": public_pem(request),
        "can_sign": allowed(actor.role, "results.sign"), "notice": request.query.get("signed") and "Signed."}, actor)


@routes.post(CONTEST + "/results/sign")
@guarded("results.sign")
async def sign_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    detail = await contests_admin.contest_detail(request.app[SESSIONS], actor, contest_id(request))
    await signing.sign_on_demand(request.app[SESSIONS], request.app[RESULTS_KEY], actor, detail.contest.id)
    raise see_other(f"/admin/contests/{detail.contest.id}/results?signed=1")


async def stored_sheet(request: web.Request, actor: Actor) -> SignedSheet:
    detail = await contests_admin.contest_detail(request.app[SESSIONS], actor, contest_id(request))
    return await signing.sheet_of(request.app[SESSIONS], detail.contest.id, int(request.match_info["sheet_id"]))


@routes.get(CONTEST + "/results/{sheet_id:[0-9]{1,12}}.csv")
@guarded("results.sign")
async def sheet_download(request: web.Request, actor: Actor) -> web.StreamResponse:
    sheet = await stored_sheet(request, actor)
    return web.Response(body=sheet.sheet, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="{sheet.contest_slug}-results-{sheet.id}.csv"'})


@routes.get(CONTEST + "/results/{sheet_id:[0-9]{1,12}}.csv.sig")
@guarded("results.sign")
async def signature_download(request: web.Request, actor: Actor) -> web.StreamResponse:
    sheet = await stored_sheet(request, actor)
    return web.Response(body=sheet.signature, content_type="text/plain", headers={
        "Content-Disposition": f'attachment; filename="{sheet.contest_slug}-results-{sheet.id}.csv.sig"'})


def sheet_json(sheet: SignedSheet) -> dict[str, Any]:
    return {"id": sheet.id, "contest": sheet.contest_slug, "reason": sheet.reason, "entries": sheet.entries,
            "head": sheet.head.hex(), "created_at": sheet.created_at.isoformat(), "sheet": sheet.sheet.decode(),
            "signature": sheet.signature.decode().strip()}


@routes.post(API_CONTEST + "/results/sign")
@guarded("results.sign")
async def sign_api(request: web.Request, actor: Actor) -> web.StreamResponse:
    detail = await contests_admin.contest_detail(request.app[SESSIONS], actor, contest_id(request))
    signed = await signing.sign_on_demand(request.app[SESSIONS], request.app[RESULTS_KEY], actor, detail.contest.id)
    return web.json_response(sheet_json(signed), status=201)


@routes.get("/api/v1/admin/results-key")
@guarded("signed_in")
async def key_api(request: web.Request, actor: Actor) -> web.StreamResponse:
    public = request.app[RESULTS_KEY].public_key()
    return web.json_response({"algorithm": "Ed25519", "pem": signing.public_pem(public),
                              "raw_base64": base64.b64encode(signing.public_raw(public)).decode()})
