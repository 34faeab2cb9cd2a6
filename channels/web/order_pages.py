"""A vote's status page and its JSON for the page's script; the answer to a vote posted by the script."""

from __future__ import annotations

import uuid

from aiohttp import web

from channels.web import csrf
from channels.web.i18n import PaymentWay, Translator, order_words
from channels.web.rendering import Page, html_errors, message_page, page_for, render, secure_cookies
from gateway.core.contests.catalog import PublicContest, VoterOrder
from gateway.core.errors import NotFound
from gateway.core.money_in.prompting_again import PromptAgain
from gateway.core.providers import PaymentError
from gateway.core.service import VOTE_SERVICE
from gateway.db.models import OrderStatus
from gateway.kit import throttle
from gateway.kit.keys import CHECKS, PROVIDERS, REDIS, SETTINGS

routes = web.RouteTableDef()
RETURN_CHECK_WINDOW = 10  # a voter back from a payment page triggers at most one status check per 10 s
PROMPT_AGAIN_WINDOW = 30  # an order's voter asks for its prompt again at most once per 30 s (each asks the provider)
# What the page says after a voter asked for the prompt again (`?again=`), by the core's answer.
AGAIN_WORDS = {PromptAgain.SENT: "prompt_again_sent", PromptAgain.ON_ITS_WAY: "prompt_again_sent",
               PromptAgain.STILL_OPEN: "prompt_again_still_open", PromptAgain.UNSURE: "prompt_again_unsure",
               PromptAgain.NOT_OFFERED: "prompt_again_not_offered",
               "too_soon": "prompt_again_too_soon", "unavailable": "err_payment_unavailable"}


async def vote_accepted(request: web.Request, page: Page, order_id: uuid.UUID, redirect: str | None) -> web.Response:
    view = await request.app[VOTE_SERVICE].order(order_id)
    summary = order_words(view, page.tr, payment_way(request, view, page.tr))
    body = {"order": {"id": str(order_id), "reference": view.reference, "status": view.status},
            "next": {"action": "redirect" if redirect else "approve_on_phone", "url": redirect},
            "status_url": f"/orders/{order_id}", "poll_url": f"/orders/{order_id}/status?lang={page.tr.lang}",
            "summary": summary.as_json()}
    return web.json_response(body, status=201)


def payment_way(request: web.Request, view: VoterOrder, tr: Translator) -> PaymentWay:
    """How the order is paid, read from its provider's declared capabilities (never its name)."""
    service = request.app[VOTE_SERVICE]
    return PaymentWay(service.needs_redirect(view), service.approval(view.provider),
                      tr.provider(view.provider, request.app[PROVIDERS]))


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
    if await throttle.once_per(request.app[REDIS], f"web-order-check:{order.id}", RETURN_CHECK_WINDOW,
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
    summary = order_words(view, page.tr, payment_way(request, view, page.tr), cancelled)
    poll = f"/orders/{view.id}/status?lang={page.tr.lang}" + ("&cancelled=1" if cancelled else "")
    again = request.app[VOTE_SERVICE].offers_prompt_again(view)
    token = csrf.issue(request, request.app[SETTINGS].secret_key.get_secret_value(),
                       secure=secure_cookies(request)) if again else None
    context = {"view": view, "contest": contest, "summary": summary, "reference": view.reference,
               "poll_url": poll, "prompt_again": again, "csrf_field": csrf.FIELD, "csrf": token.token if token else "",
               "again_notice": page.tr(AGAIN_WORDS[request.query["again"]])
               if request.query.get("again") in AGAIN_WORDS else None}
    return render(page, "order.html", context, token=token)


@routes.post("/orders/{order_id}/prompt-again", name="order_prompt_again")
@html_errors
async def order_prompt_again(request: web.Request) -> web.StreamResponse:
    """"Didn't get it? Send again": the core pushes a new prompt only once the provider says the last one is over
    unpaid (gateway.core.money_in.prompting_again); an order asks at most once per PROMPT_AGAIN_WINDOW, each
    ask being a call to the provider. Answers by going back to the order's page, which says what happened."""
    found = await find_order(request)
    form = await request.post()
    page = page_for(request, found[1].default_language if found else None)
    if found is None:
        return message_page(page, 404, page.tr("not_found_title"), page.tr("order_not_found"))
    if not csrf.verify(request, form, request.app[SETTINGS].secret_key.get_secret_value(),
                       secure=secure_cookies(request)):
        return message_page(page, 403, page.tr("csrf_title"), page.tr("csrf_body"))
    view = found[0]
    if not await throttle.once_per(request.app[REDIS], f"web-prompt-again:{view.id}", PROMPT_AGAIN_WINDOW,
                                   if_unavailable=False):  # without Redis no bound holds: no call to the provider
        said: str = "too_soon"
    else:
        try:
            said = (await request.app[VOTE_SERVICE].prompt_again(view.id)).value
        except PaymentError:
            said = "unavailable"
    raise web.HTTPSeeOther(f"/orders/{view.id}?lang={page.tr.lang}&again={said}")


@routes.get("/orders/{order_id}/status", name="order_status")
async def order_status(request: web.Request) -> web.StreamResponse:
    """The status page's words as JSON, in the page's language, for its script to poll."""
    found = await find_order(request)
    if found is None:
        return web.json_response({"error": {"code": "order_not_found"}}, status=404)
    view, contest = found
    page = page_for(request, contest.default_language)
    summary = order_words(view, page.tr, payment_way(request, view, page.tr), "cancelled" in request.query)
    # The provider's receipt code (M-Pesa's), shown beside our reference once the provider gave one.
    return web.json_response({**summary.as_json(), "receipt_code": view.receipt_code},
                             headers={"Cache-Control": "no-store"})
