"""Africa's Talking's SMS callbacks: an inbound message is kept (once per AT id), handed to the job queue and answered
200; parsing, voting and replies happen in a job (`channels.sms.channel.inbound_batch_job`). The first message after
a quiet spell goes at once; those that come since the process's last hand-over began go together, in one job
(`gateway.kit.hand_over_lane`). What became of a message can be read back by its id in development (`gateway sms`
does)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from channels.phone.callers import check_at_token
from channels.sms import store
from channels.sms.exchanges import exchange
from channels.sms.forms import parse_delivery, parse_inbound
from channels.sms.settings import SmsSettings, sms_token_usable
from gateway.core.errors import NotFound
from gateway.core.service import VOTE_SERVICE
from gateway.jobs.queues import answers_queue, batch_job_id
from gateway.kit.channel_parts import enqueue_channel_job
from gateway.kit.hand_over_lane import HandOverLane
from gateway.kit.keys import QUEUE, SESSIONS, settings_of

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
INBOUND_JOB = "inbound-batch"  # channels.sms.channel's pass: the messages of one hand-over
INBOUND_LANE = web.AppKey("sms_inbound_lane", HandOverLane[int])
# A hand-over (a job) begins at most this often: the first message after a quiet spell goes at once, later ones wait
# up to this long (their reply is owed within seconds), and a show's messages go several to a job rather than one,
# each job costing a worker RQ's own bookkeeping (a fifth of its CPU with a job a message).
INBOUND_PACE_SECONDS = 0.25


def check_caller(request: web.Request) -> None:
    settings = settings_of(request.app, SmsSettings)
    check_at_token("SMS", "SMS_CALLBACK_TOKEN", settings.sms_callback_token, usable=sms_token_usable(settings),
                   production=settings.is_production, given=request.query.get("token", ""))


@routes.post("/sms/africastalking/inbound")
async def inbound(request: web.Request) -> web.Response:
    check_caller(request)
    message = parse_inbound(dict(await request.post()))
    inbound_id = await store.keep_inbound(request.app[SESSIONS], message)
    if inbound_id is not None:
        await enqueue_handling(request.app, inbound_id)
    return web.json_response({"ok": True, "duplicate": inbound_id is None})


async def enqueue_handling(app: web.Application, inbound_id: int) -> None:
    """The message is kept first: if Redis is away, the row (handled_at NULL) still says a reply is owed, and the
    backstop answers it."""
    try:
        await app[INBOUND_LANE].add(inbound_id)
    except Exception:
        log.warning("SMS %s kept but not queued for handling", inbound_id, exc_info=True)


def inbound_job_id(inbound_ids: list[int]) -> str:
    """Told by all of its messages, as a lone message's job always was."""
    if len(inbound_ids) == 1:
        return f"sms-inbound-{inbound_ids[0]}"
    return batch_job_id("sms-inbound", inbound_ids)


async def inbound_lane(app: web.Application) -> AsyncIterator[None]:
    answers = answers_queue(app[QUEUE])  # a voter waits on each: before the receipts in every worker

    def enqueue(inbound_ids: list[int]) -> None:
        enqueue_channel_job(answers, "sms", INBOUND_JOB, inbound_ids, job_id=inbound_job_id(inbound_ids))

    app[INBOUND_LANE] = lane = HandOverLane[int](lambda inbound_ids: asyncio.to_thread(enqueue, inbound_ids),
                                               pace=INBOUND_PACE_SECONDS)
    yield
    await lane.close()


async def inbound_exchange(request: web.Request) -> web.Response:
    """What became of a message AT delivered (for `gateway sms`): handled or not, its order's state, and the SMS
    sent for it; with the same token as the callbacks, as only AT (or the simulator standing in for it) knows ids.
    Development's only: AT itself never asks, so production does not serve it."""
    check_caller(request)
    found = await exchange(request.app[SESSIONS], request.app[VOTE_SERVICE], request.match_info["at_id"])
    if found is None:
        raise NotFound("No SMS came with that id.", code="sms_not_found")
    return web.json_response(found.as_json(), headers={"Cache-Control": "no-store"})


@routes.post("/sms/africastalking/delivery")
async def delivery(request: web.Request) -> web.Response:
    check_caller(request)
    report = parse_delivery(dict(await request.post()))
    known = await store.note_delivery(request.app[SESSIONS], report)
    if not known:
        log.info("delivery report for unknown SMS %s (%s)", report.at_message_id, report.status)
    return web.json_response({"ok": True, "known": known})


def setup(app: web.Application) -> None:
    app.add_routes(routes)
    app.cleanup_ctx.append(inbound_lane)
    if not settings_of(app, SmsSettings).is_production:  # `gateway sms`, the development simulator, reads it
        app.router.add_get("/sms/africastalking/inbound/{at_id}", inbound_exchange)
