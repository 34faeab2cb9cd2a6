"""The entry pages: a call's page where a candidate enters from a phone (static/entry.js drives the steps and the
resumable upload through entry_api), and an entry's private page, where the candidate follows it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiohttp import web

from channels.web.rendering import html_errors, message_page, page_for, render
from gateway.core import entries
from gateway.core.errors import NotFound
from gateway.db.models import EntryStatus, UploadState
from gateway.kit.keys import MEDIA_STORAGE, SESSIONS

routes = web.RouteTableDef()
REFRESH_SECONDS = 10  # while the clip is being prepared (a minute of 1080p takes about half a minute here)


@routes.get("/c/{slug}/enter", name="entry_call")
@html_errors
async def call_page(request: web.Request) -> web.StreamResponse:
    page = page_for(request)
    try:
        call = await entries.public_call(request.app[SESSIONS], request.match_info["slug"], datetime.now(UTC))
    except NotFound:
        return message_page(page, 404, page.tr("enter_closed"), page.tr("enter_closed"))
    data = {"slug": call.slug, "lang": page.tr.lang}
    return render(page, "entry.html", {"call": call, "data": data})


@routes.get("/entries/{entry_id}", name="entry_page")
@html_errors
async def entry_page(request: web.Request) -> web.StreamResponse:
    page = page_for(request)
    try:
        view = await entries.entry_view(request.app[SESSIONS], request.app[MEDIA_STORAGE],
                                        uuid.UUID(request.match_info["entry_id"]), request.query.get("t", ""))
    except (ValueError, NotFound):
        return message_page(page, 404, page.tr("error_title"), page.tr("enter_closed"))
    processing = view.clip.state in (UploadState.GRANTED, UploadState.RECEIVED)
    response = render(page, "entry_status.html", {
        "view": view, "processing": processing, "refresh": REFRESH_SECONDS if processing else None,
        "pending": view.status is EntryStatus.PENDING, "token": request.query.get("t", ""),
        "data": {"slug": view.slug, "lang": page.tr.lang, "entry": str(view.id), "token": request.query.get("t", ""),
                 "processing": processing, "refresh_seconds": REFRESH_SECONDS},
    })
    response.headers["Referrer-Policy"] = "no-referrer"  # the address is the entry's key
    return response
