"""A vote's status page and its JSON for the page's script; the answer to a vote posted by the script."""

from __future__ import annotations

import uuid

from aiohttp import web

from channels.web.i18n import (
    order_words,
)
from channels.web.rendering import Page, html_errors, message_page, page_for, render
from gateway.core.contests.catalog import PublicContest, VoterOrder
from gateway.core.errors import NotFound
from gateway.core.service import VOTE_SERVICE
from gateway.db.models import OrderStatus
from gateway.kit import throttle
from gateway.kit.keys import CHECKS, REDIS

routes = web.RouteTableDef()
RETURN_CHECK_WINDOW = 10  # a voter back from a payment page triggers at most one status check per 10 s


async def vote_accepted(request: web.Request, page: Page, order_id: uuid.UUID, redirect: str | None) -> web.Response:
    view = await request.app[VOTE_SERVICE].order(order_id)
    summary = order_words(view, page.tr, needs_redirect(request, view))
    body = {"order": {"id": str(order_id), "reference": view.reference, "status": view.status},
            "next": {"action": "redirect" if redirect else "approve_on_phone", "url": redirect},
            "status_url": f"/orders/{order_id}", "poll_url": f"/orders/{order_id}/status?lang={page.tr.lang}",
            "summary": summary.as_json()}
    return web.json_response(body, status=201)


def needs_redirect(request: web.Request, view: VoterOrder) -> bool:
    return request.app[VOTE_SERVICE].needs_redirect(view)


async def find_order(request: web.Request) -> tuple[VoterOrder, PublicContest] | None:
    service = request.app[VOTE_SERVICE]
    try:
        view = await service.order(uuid.UUID(request.match_info["order_id"]))
    except (ValueError, NotFound):
        return None
    contest = await service.contest_of(view)
    return (view, contest) if contest is not None else None


async def check_on_return(request: web.Request, order: VoterOrder) -> None:
    """Back from a payment page: ask the provider now rather than wait for its notification."""
    returning = "from" in request.query or "cancelled" in request.query
    if not returning or order.status is not OrderStatus.PENDING or order.payment_started_at is None:
        return
    if await throttle.hit(request.app[REDIS], f"web-order-check:{order.id}", 1, RETURN_CHECK_WINDOW,
                          if_unavailable=False):  # the reconciler checks it anyway
        request.app[CHECKS].request(order.id)


@routes.get("/orders/{order_id}", name="order_page")
@html_errors
async def order_page(request: web.Request) -> web.StreamResponse:
    found = await find_order(request)
    if found is None:
        page = page_for(request)
        return message_page(page, 404, page.tr("not_found_title"), page.tr("order_not_found"))
    view, contest = found
    await check_on_return(request, view)
    page = page_for(request, contest.default_language)
    cancelled = "cancelled" in request.query
    summary = order_words(view, page.tr, needs_redirect(request, view), cancelled)
    poll = f"/orders/{view.id}/status?lang={page.tr.lang}" + ("&cancelled=1" if cancelled else "")
    context = {"view": view, "contest": contest, "summary": summary, "reference": view.reference,
               "poll_url": poll}
    return render(page, "order.html", context)


@routes.get("/orders/{order_id}/status", name="order_status")
async def order_status(request: web.Request) -> web.StreamResponse:
    """The status page's words as JSON, in the page's language, for its script to poll."""
    found = await find_order(request)
    if found is None:
        return web.json_response({"error": {"code": "order_not_found"}}, status=404)
    view, contest = found
    page = page_for(request, contest.default_language)
    summary = order_words(view, page.tr, needs_redirect(request, view), "cancelled" in request.query)
    return web.json_response(summary.as_json(), headers={"Cache-Control": "no-store"})
