"""The entry pages: a call's page where a candidate enters from a phone (static/entry.js drives the steps and the
resumable upload through entry_api), and an entry's private page, where the candidate follows it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiohttp import web

from channels.web.entry_texts import ENTRY_ERRORS
from channels.web.i18n import error_message
from channels.web.market_texts import example_number
from channels.web.number_proof_texts import error_texts
from channels.web.rendering import html_errors, message_page, page_for, render
from gateway.core.entries import entering
from gateway.core.errors import DomainError, NotFound
from gateway.core.service import VOTE_SERVICE
from gateway.db.models import EntryStatus, OrderStatus, UploadState
from gateway.kit.keys import MEDIA_STORAGE, PROVIDERS, SESSIONS

routes = web.RouteTableDef()
REFRESH_SECONDS = 10  # while the clip is being prepared (a minute of 1080p takes about half a minute here)


@routes.get("/c/{slug}/enter", name="entry_call")
@html_errors
async def call_page(request: web.Request) -> web.StreamResponse:
    page = page_for(request)
    try:
        call = await entering.public_call(request.app[SESSIONS], request.match_info["slug"], datetime.now(UTC))
    except NotFound:
        return message_page(page, 404, page.tr("enter_closed"), page.tr("enter_closed"))
    data = {"slug": call.slug, "lang": page.tr.lang}
    return render(page, "entry.html", {"call": call, "data": data, "errors": error_texts(page.tr, ENTRY_ERRORS),
                                       "example_number": example_number(call.country)})


@routes.get("/entries/{entry_id}", name="entry_page")
@html_errors
async def entry_page(request: web.Request) -> web.StreamResponse:
    try:
        entry_id = uuid.UUID(request.match_info["entry_id"])
    except ValueError:
        return entry_missing(request)
    return await entry_response(request, entry_id, request.query.get("t", ""))


def entry_missing(request: web.Request) -> web.Response:
    page = page_for(request)
    return message_page(page, 404, page.tr("error_title"), page.tr("enter_closed"))


async def entry_response(request: web.Request, entry_id: uuid.UUID, token: str, *, fee_error: str | None = None,
                         status: int = 200) -> web.Response:
    page = page_for(request)
    try:
        view = await entering.entry_view(request.app[SESSIONS], request.app[MEDIA_STORAGE], request.app[PROVIDERS],
                                         entry_id, token)
    except NotFound:
        return entry_missing(request)
    processing = view.clip.state in (UploadState.GRANTED, UploadState.RECEIVED)
    response = render(page, "entry_status.html", {
        "view": view, "processing": processing, "refresh": REFRESH_SECONDS if processing else None,
        "pending": view.status is EntryStatus.PENDING, "token": token, "fee_error": fee_error,
        "errors": error_texts(page.tr, ENTRY_ERRORS),
        "data": {"slug": view.slug, "lang": page.tr.lang, "entry": str(view.id), "token": token,
                 "processing": processing, "refresh_seconds": REFRESH_SECONDS},
    }, status=status)
    response.headers["Referrer-Policy"] = "no-referrer"  # the address is the entry's key
    return response


@routes.post("/entries/{entry_id}/fee", name="entry_fee")
@html_errors
async def pay_fee(request: web.Request) -> web.StreamResponse:
    """The entry fee's form: the private link's token proves the candidate (no cookie does; a forged cross-site
    post cannot know it). Answers with the provider's page, or the payment's own status page."""
    try:
        entry_id = uuid.UUID(request.match_info["entry_id"])
    except ValueError:
        return entry_missing(request)
    form = await request.post()
    token, provider, msisdn = (str(form.get(name) or "") for name in ("t", "provider", "msisdn"))
    page = page_for(request)
    try:
        placed = await request.app[VOTE_SERVICE].pay_entry_fee(entry_id, token, provider, msisdn.strip() or None,
                                                               channel="web")
    except NotFound:
        return entry_missing(request)
    except DomainError as exc:
        message = error_message(page.tr, exc.code, exc.field, exc.message, {"reason": exc.message})
        return await entry_response(request, entry_id, token, fee_error=message, status=exc.status)
    started = placed.started
    if started is not None and started.status is OrderStatus.FAILED:
        message = page.tr("err_payment_refused", reason=page.tr.reason(started.message))
        return await entry_response(request, entry_id, token, fee_error=message, status=422)
    redirect = started.redirect_url if started is not None and started.status is OrderStatus.PENDING else None
    raise web.HTTPSeeOther(redirect or f"/orders/{placed.order.id}")
