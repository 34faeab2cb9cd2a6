"""Signed results in the admin area: the public key, a contest's signed sheets and, for owners and
auditors, signing the results now (audited); for the contest's organisers, its winners' certificates (PDF) once
its results are signed at close. Pages under /admin/, the same under /api/v1/admin/."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from aiohttp import web
from sqlalchemy import select

from admin.accounts import allowed
from admin.certificates import Issuer, certificate_pdf
from admin.pages.contests import contest_id
from admin.pages.rendering import render, see_other
from admin.web import guarded
from gateway.core.audit import Actor
from gateway.core.contests import contests_admin
from gateway.core.errors import Conflict, DomainError
from gateway.core.results import certificates, signing
from gateway.core.results.signing import SignedSheet
from gateway.db.models import AdminUser, Contest, ContestOrganiser
from gateway.kit.keys import RESULTS_KEY, SESSIONS, SETTINGS

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
    published = await certifying_sheet(request, detail.contest)
    top = places_asked(request)
    return render(request, "results.html", {
        "contest": detail.contest, "sheets": sheets, "public_pem": public_pem(request),
        "can_sign": allowed(actor.role, "results.sign"), "notice": request.query.get("signed") and "Signed.",
        "published": published, "top": top, "issuer": request.query.get("issuer", "")[:ISSUER_LENGTH],
        "certifying": certificates.CERTIFYING_REASONS,
        "winners": [] if published is None else certificates.finalists(published, top)}, actor)


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


# Winners' certificates: made from the latest sheet signed at (or after) close, for the contest's own organisers.
ISSUER_LENGTH = 120
MAX_PLACES = 100


def places_asked(request: web.Request) -> int:
    """?top=N: the places that get a certificate (the winner alone by default)."""
    text = request.query.get("top", "1")
    if not text.isdigit() or not 1 <= int(text) <= MAX_PLACES:
        raise DomainError(f"top must be a whole number from 1 to {MAX_PLACES}.", code="bad_top", field="top")
    return int(text)


async def issuer_of(request: web.Request, contest: Contest) -> Issuer:
    """?issuer= as the organiser types it, else the contest's first organiser account; no logo (none is kept)."""
    typed = " ".join(request.query.get("issuer", "").split())[:ISSUER_LENGTH]
    if typed:
        return Issuer(typed)
    async with request.app[SESSIONS]() as session:
        email = await session.scalar(
            select(AdminUser.email).join(ContestOrganiser, ContestOrganiser.admin_id == AdminUser.id)
            .where(ContestOrganiser.contest_id == contest.id).order_by(ContestOrganiser.admin_id).limit(1))
    return Issuer(email or contest.name)


async def certifying_sheet(request: web.Request, contest: Contest) -> SignedSheet | None:
    """?sheet=ID: that sheet of the contest's (a round's, or one signed at or after close; 409 for one signed on
    demand); without it, the latest signed at or after close, None before there is one."""
    asked = request.query.get("sheet")
    if asked is None:
        return await signing.latest_sheet(request.app[SESSIONS], contest.slug)
    if not asked.isdigit() or len(asked) > 12:
        raise DomainError("sheet must be a results sheet's id.", code="bad_sheet", field="sheet")
    chosen = await signing.sheet_of(request.app[SESSIONS], contest.id, int(asked))
    if chosen.reason not in certificates.CERTIFYING_REASONS:
        raise Conflict("A sheet signed on demand, while votes may still come in, makes no certificate.",
                       code="sheet_not_final")
    return chosen


async def signed_at_close(request: web.Request, contest: Contest) -> SignedSheet:
    """The sheet the certificates are made from; 409 before there is one: a certificate states only signed
    results."""
    chosen = await certifying_sheet(request, contest)
    if chosen is None:
        raise Conflict("Certificates are made from the results signed at close: close the contest and wait for its "
                       "signed sheet.", code="results_not_signed")
    return chosen


CERTIFICATE = "/certificates/{code:[A-Za-z0-9]{1,8}}.pdf"


@routes.get(API_CONTEST + CERTIFICATE)
@routes.get(CONTEST + CERTIFICATE)
@guarded("contests.read")
async def certificate_download(request: web.Request, actor: Actor) -> web.StreamResponse:
    """One candidate's certificate, in the contest's language, its QR code the address of its check."""
    contest = (await contests_admin.contest_detail(request.app[SESSIONS], actor, contest_id(request))).contest
    data = certificates.certificate_for(await signed_at_close(request, contest), request.match_info["code"])
    url = certificates.verify_url(request.app[SETTINGS].public_base_url, data)
    # In a thread: the page and its QR code drawn (and fpdf2 imported, at the first) would hold the voters' loop.
    pdf = await asyncio.to_thread(certificate_pdf, data, await issuer_of(request, contest), contest.default_language,
                                  contest.time_zone, url)
    return web.Response(body=pdf, content_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{contest.slug}-certificate-{data.code}.pdf"',
        "Cache-Control": "no-store"})


@routes.get(API_CONTEST + "/certificates")
@guarded("contests.read")
async def certificates_api(request: web.Request, actor: Actor) -> web.StreamResponse:
    """The certificates of the first ?top=N places: each one's data, its PDF's path and its check's address."""
    detail = await contests_admin.contest_detail(request.app[SESSIONS], actor, contest_id(request))
    published = await signed_at_close(request, detail.contest)
    base = request.app[SETTINGS].public_base_url
    return web.json_response({"sheet": published.id, "certificates": [
        {"code": data.code, "name": data.name, "place": data.place, "votes": data.votes, "round": data.round,
         "jury": data.jury,
         "pdf": f"/api/v1/admin/contests/{detail.contest.id}/certificates/{data.code}.pdf?sheet={published.id}",
         "verify_url": certificates.verify_url(base, data)}
        for data in certificates.finalists(published, places_asked(request))]})
