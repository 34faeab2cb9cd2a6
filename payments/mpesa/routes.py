"""M-Pesa's callbacks: an STK Push's result on the URL we gave for the order, and a reversal's or B2C payment's
result (or its queue's time-out), or its Transaction Status query's, on the URLs we gave with them, each carrying
its secret (`payments.mpesa.callback_secret`)."""

from __future__ import annotations

import uuid

from aiohttp import web

from gateway.core.money_out import outgoing_notices
from gateway.kit.answers import error_body
from gateway.kit.keys import REDIS, SESSIONS, SETTINGS
from payments.answers import parsed_object
from payments.callbacks import answer_callback, order_id_from_path
from payments.mpesa import c2b_routes
from payments.mpesa.callback_secret import QUERY_NAME, callback_key, secret_holds
from payments.mpesa.outgoing_results import OutgoingResults
from payments.mpesa.paths import OLD_PREFIX, PREFIX
from payments.mpesa.request_cap import NAME

ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}  # what Daraja expects back


async def stk_callback(request: web.Request) -> web.Response:
    """Daraja POSTs an STK Push's result on the URL we gave for the order, whose query holds its secret."""
    return await answer_callback(request, NAME, order_id_from_path(request), secret=request.query.get(QUERY_NAME))


async def outgoing_result(request: web.Request) -> web.Response:
    """A reversal's or B2C payment's Result, on its ResultURL: kept, and its refund or payout looked at soon."""
    return await take_outgoing(request, timed_out=False)


async def outgoing_time_out(request: web.Request) -> web.Response:
    """Daraja's queue gave up on a request (QueueTimeOutURL): sent again, unless the body carries its Result after
    all, which is then taken as the ResultURL's would be."""
    return await take_outgoing(request, timed_out=True)


async def status_result(request: web.Request) -> web.Response:
    """The Result of a Transaction Status query about one of our reversals or payments (on both of the query's
    URLs): kept apart from the transfer's own result, and its refund or payout looked at soon. A time-out in
    Daraja's queue keeps nothing: a later look asks again."""
    reference = await our_reference(request)
    if isinstance(reference, web.Response):
        return reference
    result = (parsed_object(await request.read()) or {}).get("Result")
    if isinstance(result, dict) and result.get("ResultCode") is not None:
        await OutgoingResults(request.app[REDIS]).keep_status(reference, result)
    return web.json_response(ACCEPTED)


async def our_reference(request: web.Request) -> uuid.UUID | web.Response:
    """The reference a result URL names, once its secret holds and it is a refund or payout of ours (brought
    forward); else the refusal."""
    try:
        reference = uuid.UUID(request.match_info["reference"])
    except ValueError:
        return error_body(404, "not_found", "No reversal or payment of ours has this reference.")
    key = callback_key(request.app[SETTINGS].secret_key.get_secret_value())
    if not secret_holds(key, reference, request.query.get(QUERY_NAME)):
        return error_body(400, "bad_secret", "This result URL is not one we gave Daraja.")
    if not await outgoing_notices.notice(request.app[SESSIONS], reference):
        return error_body(404, "not_found", "No reversal or payment of ours has this reference.")
    return reference


async def take_outgoing(request: web.Request, *, timed_out: bool) -> web.Response:
    reference = await our_reference(request)
    if isinstance(reference, web.Response):
        return reference
    body = parsed_object(await request.read()) or {}
    result = body.get("Result")
    results = OutgoingResults(request.app[REDIS])
    if isinstance(result, dict) and result.get("ResultCode") is not None:
        await results.keep_result(reference, result)
    elif timed_out:
        await results.keep_time_out(reference)
    else:
        return error_body(400, "no_result", "This body holds no Result.")
    return web.json_response(ACCEPTED)


def setup(app: web.Application) -> None:
    """Each callback under the path we hand Daraja (`payments.mpesa.paths`), and under the old one it replaced, for
    the prompts and transfers in flight when it changed; the paybill's C2B URLs under the new one only."""
    for prefix in (PREFIX, OLD_PREFIX):
        app.router.add_post(f"{prefix}/callback/{{order_id}}", stk_callback)
        app.router.add_post(f"{prefix}/result/{{reference}}", outgoing_result)
        app.router.add_post(f"{prefix}/timeout/{{reference}}", outgoing_time_out)
        app.router.add_post(f"{prefix}/status/{{reference}}", status_result)
    c2b_routes.setup(app)
