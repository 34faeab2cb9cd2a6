"""Cloudinary's notifications (`POST /media/cloudinary/notify`): an upload that arrived, then the renditions its
eager transformations made. Believed only when signed with the account's secret and fresh (a replay an hour
later is refused); each moves the upload on once (gateway.core.media.uploads is idempotent), so a notification
Cloudinary repeats changes nothing more. The size is checked here: Cloudinary's upload API takes any."""

from __future__ import annotations

import json
import logging
import time

from aiohttp import web

from gateway.kit.keys import MEDIA_STORAGE, SESSIONS
from media.cloudinary import CloudinaryStorage
from media.cloudinary_notices import NotOurs, note, read_notification, verify_notification

log = logging.getLogger(__name__)
NOTIFY_PATH = "/media/cloudinary/notify"
routes = web.RouteTableDef()


def refused(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@routes.post(NOTIFY_PATH)
async def notify(request: web.Request) -> web.Response:
    storage = request.app[MEDIA_STORAGE]
    if not isinstance(storage, CloudinaryStorage):
        return refused(404, "not_found", "This service keeps its files elsewhere.")
    body = await request.read()
    if not verify_notification(body, request.headers.get("X-Cld-Timestamp", ""),
                               request.headers.get("X-Cld-Signature", ""), storage.account.api_secret, time.time()):
        return refused(401, "bad_signature", "This notification is not signed by our Cloudinary account.")
    try:
        payload = json.loads(body)
        notice = read_notification(payload if isinstance(payload, dict) else {})
    except NotOurs:
        return web.json_response({"ignored": True})  # another product's file on the account, or another type
    except (ValueError, KeyError, TypeError):
        return refused(400, "unreadable", "This notification could not be read.")
    if notice.kind == "eager":
        # The eager notice names the files, not the clip: what the entry rules judge (its length, its tracks, its
        # size) is read from the Admin API, so a clip whose upload notice was lost is never ready unjudged.
        checked = await storage.notice(notice.upload_id)
        if checked is None:
            return web.json_response({"ignored": True})
        notice = checked
    await note(request.app[SESSIONS], storage, notice)
    return web.json_response({"noted": True})


def setup(app: web.Application) -> None:
    app.add_routes(routes)
