""""My vote counted" and the published results: the page and JSON where a voter looks up the
reference on their receipt, the check of a winner's certificate whose QR code was scanned, the results-signing
public key at a stable address, and a closed contest's signed results sheet. Look-ups are limited per client
address; nothing of the payer shows but the masked number."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from channels.web.rendering import Page, html_errors, message_page, page_for, render
from channels.web.schemas import CheckpointOut, LedgerEntryOut, NamedOut, ReceiptOut, ResultsKeyOut
from gateway.core.errors import Conflict, DomainError, NotFound, RateLimited
from gateway.core.orders.order_standing import OrderStanding, Outcome
from gateway.core.results import certificates, signing
from gateway.core.results.certificates import Verdict
from gateway.core.service import VOTE_SERVICE
from gateway.core.texts import shown_digits
from gateway.kit import throttle
from gateway.kit.keys import REDIS, RESULTS_KEY, SESSIONS, SETTINGS

routes = web.RouteTableDef()
LOOKUP_WINDOW = 60
PUBLIC_KEY_PATH = "/.well-known/ballot-results-key"


async def lookup_allowed(request: web.Request) -> bool:
    """Within the per-address and the overall limits. With Redis away nothing can be counted, so nothing is looked
    up (the page is a convenience; an unlimited guesser is not)."""
    settings, redis = request.app[SETTINGS], request.app[REDIS]
    own = await throttle.hit(redis, f"receipt-lookup:{throttle.client_address(request)}",
                             settings.receipt_lookups_per_minute, LOOKUP_WINDOW, if_unavailable=False)
    return own and await throttle.hit(redis, "receipt-lookup:all", settings.receipt_lookups_per_minute_total,
                                      LOOKUP_WINDOW, if_unavailable=False)


def receipt_out(standing: OrderStanding) -> ReceiptOut:
    checkpoint = standing.checkpoint
    return ReceiptOut(
        reference=standing.reference, contest=NamedOut(slug=standing.contest_slug, name=standing.contest_name),
        candidate=NamedOut(code=standing.candidate_code, name=standing.candidate_name),
        quantity=standing.quantity, amount=standing.amount, currency=standing.currency,
        minor_digits=shown_digits(standing.currency), payer=standing.msisdn,
        outcome=standing.outcome.value, counted=standing.outcome is Outcome.COUNTED,
        ledger_entries=[LedgerEntryOut(seq=e.seq, kind=e.kind, quantity=e.quantity, hash=e.hash_hex,
                                       recorded_at=e.recorded_at) for e in standing.entries],
        checkpoint=None if checkpoint is None else CheckpointOut(
            entries=checkpoint.entries, head=checkpoint.head_hex, taken_at=checkpoint.taken_at),
        next_checkpoint_at=standing.next_checkpoint_at, sealed=standing.sealed)


@routes.get("/api/v1/receipts/{reference}")
async def receipt_json(request: web.Request) -> web.Response:
    """The order a receipt's reference names, as JSON (errors in the API's JSON shape, 404 when unknown)."""
    if not await lookup_allowed(request):
        raise RateLimited("Too many look-ups from this address; please try again in a minute.")
    standing = await request.app[VOTE_SERVICE].order_standing(request.match_info["reference"])
    return web.Response(text=receipt_out(standing).model_dump_json(), content_type="application/json",
                        headers={"Cache-Control": "no-store"})


ERROR_KEYS = {NotFound: (404, "verify_not_found"), Conflict: (409, "verify_ambiguous")}


@routes.get("/verify", name="verify_page")
@html_errors
async def verify_page(request: web.Request) -> web.StreamResponse:
    """The form, and below it what became of the order (or why none was found)."""
    page = page_for(request)
    if "sheet" in request.query:
        return await certificate_check(request, page)
    reference = request.query.get("reference", "").strip()[:64]
    context: dict[str, Any] = {"reference": reference, "standing": None, "error": None}
    if not reference:
        return render(page, "verify.html", context)
    if not await lookup_allowed(request):
        response = message_page(page, 429, page.tr("rate_title"), page.tr("verify_rate_body"), "/verify")
        response.headers["Retry-After"] = str(LOOKUP_WINDOW)
        return response
    try:
        standing = await request.app[VOTE_SERVICE].order_standing(reference)
    except DomainError as exc:
        status, key = ERROR_KEYS.get(type(exc), (400, "verify_bad_reference"))
        return render(page, "verify.html", {**context, "error": page.tr(key)}, status=status)
    return render(page, "verify.html", {**context, "standing": standing, "entry_lines": entry_words(page, standing)})


CERTIFICATE_STATUS = {Verdict.MATCHES: 200, Verdict.DIFFERS: 409, Verdict.BAD_SIGNATURE: 409,
                      Verdict.UNKNOWN_SHEET: 404}


async def certificate_check(request: web.Request, page: Page) -> web.Response:
    """A certificate's QR code: its figures against the published sheet it names, that sheet's signature first."""
    if not await lookup_allowed(request):
        response = message_page(page, 429, page.tr("rate_title"), page.tr("verify_rate_body"), "/verify")
        response.headers["Retry-After"] = str(LOOKUP_WINDOW)
        return response
    try:
        claim = certificates.parse_claim(request.query)
    except DomainError:
        claim = None
    if claim is None:
        return render(page, "certificate_check.html", {"check": None, "error": page.tr("certificate_bad")}, status=400)
    published = await certificates.published_sheet(request.app[SESSIONS], claim.sheet_id)
    key = request.app[RESULTS_KEY].public_key()
    check = certificates.check_claim(claim, published.signed if published else None, key)
    return render(page, "certificate_check.html", {"claim": claim, "check": check, "published": published,
                                                   "error": None}, status=CERTIFICATE_STATUS[check.verdict])


def entry_words(page: Page, standing: OrderStanding) -> list[str]:
    tr = page.tr
    if standing.sealed:  # no place in the chain until close
        return [tr("entry_line_sealed", kind=tr(f"kind_{e.kind}"), votes=tr.votes(e.quantity),
                   date=tr.date(e.recorded_at, standing.time_zone)) for e in standing.entries]
    return [tr("entry_line", seq=e.seq, kind=tr(f"kind_{e.kind}"), votes=tr.votes(e.quantity),
               date=tr.date(e.recorded_at, standing.time_zone)) for e in standing.entries]


@routes.get(PUBLIC_KEY_PATH)
async def public_key_pem(request: web.Request) -> web.Response:
    """The key that checks every signed results sheet, at an address that never changes."""
    return web.Response(text=signing.public_pem(request.app[RESULTS_KEY].public_key()),
                        content_type="application/x-pem-file", headers={"Cache-Control": "public, max-age=300"})


@routes.get("/api/v1/results-key")
async def public_key_json(request: web.Request) -> web.Response:
    public = request.app[RESULTS_KEY].public_key()
    out = ResultsKeyOut(algorithm="Ed25519", pem=signing.public_pem(public),
                        raw_base64=base64.b64encode(signing.public_raw(public)).decode(), url=PUBLIC_KEY_PATH)
    return web.Response(text=out.model_dump_json(), content_type="application/json")


async def closed_sheet(request: web.Request) -> signing.SignedSheet:
    """The latest signed sheet of a contest whose voting has closed; 404 before (or with none yet)."""
    service = request.app[VOTE_SERVICE]
    contest = await service.contest(request.match_info["slug"])
    if not service.results_published(contest, datetime.now(UTC)):
        raise NotFound("The results are published once voting has closed.", code="results_not_published")
    sheet = await service.results_sheet(contest.slug)
    if sheet is None:
        raise NotFound("The results have not been signed yet.", code="results_not_published")
    return sheet


@routes.get("/c/{slug}/results.csv")
async def results_csv(request: web.Request) -> web.Response:
    sheet = await closed_sheet(request)
    return web.Response(body=sheet.sheet, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="{sheet.contest_slug}-results.csv"'})


@routes.get("/c/{slug}/results.csv.sig")
async def results_signature(request: web.Request) -> web.Response:
    sheet = await closed_sheet(request)
    return web.Response(body=sheet.signature, content_type="text/plain", headers={
        "Content-Disposition": f'attachment; filename="{sheet.contest_slug}-results.csv.sig"'})


def setup(app: web.Application) -> None:
    app.add_routes(routes)
