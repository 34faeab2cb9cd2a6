"""Inbound provider callbacks, as every provider's routes take them in (`ProviderParts.routes`): each is kept raw,
verified, and settled through the vote core; one that is neither signed nor vouched for by a per-order secret only
triggers a status check."""

from __future__ import annotations

import time
import uuid
from functools import partial

from aiohttp import web

from gateway.core.money_in.callback_settling import CallbackOutcome, receive_callback, signature_holds
from gateway.core.orders.count_batches import CountBatches
from gateway.core.orders.outcomes import Outcome
from gateway.core.providers import CallbackRejected
from gateway.kit.answers import error_body
from gateway.kit.callback_checks import CHECK_INTERVAL, check_due, claim_check
from gateway.kit.keys import CHECKS, PROVIDERS, REDIS, RELAY, SESSIONS
from gateway.kit.service_levels import ServiceLevels
from gateway.kit.throttle import enforce_untied_limit

COUNT_BATCHES: web.AppKey[CountBatches | None] = web.AppKey("count_batches")  # the callbacks' group commit, if on
# The figures measured as the work happens (callback to tally, tally to board, providers' answers).
SERVICE_LEVELS = web.AppKey("service_levels", ServiceLevels)
SETTLED = frozenset({Outcome.COUNTED, Outcome.FLAGGED, Outcome.FAILED, Outcome.EXPIRED, Outcome.REFUNDED})


def order_id_from_path(request: web.Request) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.match_info["order_id"])
    except ValueError:
        return None


async def take_callback(request: web.Request, provider: str, order_id: uuid.UUID | None, *,
                        signed: bool = False, secret: str | None = None) -> CallbackOutcome:
    """Take a callback in; one that is not vouched for counts against its address's limit first.

    Anyone can send callbacks, and each one is written down: a flood of them, about no order of
    ours, is stored bounded (see `bounded_event`) and, past `UNTIED_LIMIT` a minute from one address,
    answered 429 before anything is stored. A genuine callback is never refused for that: the limit
    is only ever checked for a callback that is not vouched for, and a provider's own callback
    always is. MTN and Orange call back on the URL we gave them for the order, so its path names one
    of our orders paid through that provider (the query that loads the order tells, before anything
    is stored: no extra round trip for a genuine callback); Stripe names no order in its URL but
    signs every event (`signed=True`: `signature_holds`). Neither can be faked by the one flooding,
    who can only spend its own budget; and vouched callbacks are not counted, so however many a
    provider sends, they never push its address over the limit. With Redis away nothing is counted
    and everything is taken (still bounded). A callback about an order of ours that is not vouched for
    only asks for a status check, bounded per order (`gateway.kit.callback_checks`): the first asks at
    once, a repeat counts against its address's limit, is not kept, and has its check once the order's
    interval is over (one an order, whatever the number of repeats).
    """
    app = request.app
    arrived = time.monotonic()
    body = await request.read()
    limit = partial(enforce_untied_limit, request)
    if signed and not await signature_holds(app[PROVIDERS], provider, request.headers, body):
        await limit()
    outcome = await receive_callback(app[SESSIONS], app[PROVIDERS], provider, order_id, request.headers, body,
                                     untied=None if signed else limit, secret=secret, batches=app[COUNT_BATCHES],
                                     check_due=None if signed else partial(check_due, request, provider))
    if outcome.outcome is Outcome.NEEDS_CHECK and outcome.order_id is not None:
        app[CHECKS].request(outcome.order_id)
    elif outcome.outcome is Outcome.CHECKED_RECENTLY and outcome.order_id is not None:  # once the interval is over
        app[CHECKS].request_later(outcome.order_id, CHECK_INTERVAL,
                                  partial(claim_check, app[REDIS], provider, outcome.order_id))
    if outcome.outcome is Outcome.COUNTED:  # committed in the tally by now (a count batch included)
        app[SERVICE_LEVELS].note_counted(provider, time.monotonic() - arrived)
    if outcome.outcome in SETTLED:
        app[RELAY].kick()
    return outcome


async def answer_callback(request: web.Request, provider: str, order_id: uuid.UUID | None, *,
                          secret: str | None = None) -> web.Response:
    """A callback that names its order in our URL taken in, answered as providers expect: 200 once kept, 400 for
    one refused (a wrong secret, a provider not set up here)."""
    try:
        await take_callback(request, provider, order_id, secret=secret)
    except CallbackRejected as exc:
        return error_body(400, exc.code, exc.message)
    return web.json_response({"received": True})
