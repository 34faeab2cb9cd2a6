"""MTN's callbacks: a payment's, on the URL we gave with its request-to-pay, and a refund's or a transfer's, on the
URL we gave with it (`payments.mtn.callback_secret`)."""

from __future__ import annotations

import uuid

from aiohttp import web

from gateway.core.money_out import outgoing_notices
from gateway.kit.answers import error_body
from gateway.kit.keys import SESSIONS, SETTINGS
from payments.callbacks import answer_callback, order_id_from_path
from payments.mtn.api import NAME
from payments.mtn.callback_secret import QUERY_NAME, callback_key, secret_holds


async def mtn_callback(request: web.Request) -> web.Response:
    """MTN sends PUT (sometimes POST) on the URL we gave it, whose query holds the order's secret
    (`payments.mtn.callback_secret`): with it, a success for the order's amount counts at once (and is
    verified later); without it, a refusal (400) that costs no status call; else a status GET decides."""
    return await answer_callback(request, NAME, order_id_from_path(request), secret=request.query.get(QUERY_NAME))


async def mtn_disbursement_callback(request: web.Request) -> web.Response:
    """MTN's word that a refund or transfer of ours is done, on the URL we gave it: with the reference's secret it
    brings that one's status read forward (what it says is never taken); without it, or for a reference we never
    sent, it changes nothing."""
    try:
        reference = uuid.UUID(request.match_info["reference"])
    except ValueError:
        return error_body(404, "not_found", "No refund or transfer of ours has this reference.")
    if not secret_holds(callback_key(request.app[SETTINGS].secret_key.get_secret_value()), reference,
                        request.query.get(QUERY_NAME)):
        return error_body(400, "bad_secret", "This callback URL is not one we gave MTN.")
    if not await outgoing_notices.notice(request.app[SESSIONS], reference):
        return error_body(404, "not_found", "No refund or transfer of ours has this reference.")
    return web.json_response({"received": True})


def setup(app: web.Application) -> None:
    app.router.add_route("PUT", "/payments/mtn/callback/{order_id}", mtn_callback)
    app.router.add_route("POST", "/payments/mtn/callback/{order_id}", mtn_callback)
    app.router.add_route("PUT", "/payments/mtn/disbursement/{reference}", mtn_disbursement_callback)
    app.router.add_route("POST", "/payments/mtn/disbursement/{reference}", mtn_disbursement_callback)
