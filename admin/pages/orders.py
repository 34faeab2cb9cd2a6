"""Orders: the searchable list, one order with its receipt resent or refunded, and the review of held ones."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from admin.accounts import allowed
from admin.keys import CHANNEL_NAMES
from admin.pages.rendering import render, see_other
from admin.web import (
    form_of,
    guarded,
)
from gateway.core.audit import Actor
from gateway.core.entered_number import INTEGER_MAX, entered_whole
from gateway.core.errors import DomainError
from gateway.core.oversight import orders_admin
from gateway.core.oversight.orders_admin import OrderFilter
from gateway.db.models import OrderStatus
from gateway.kit.keys import PROVIDERS, SESSIONS

routes = web.RouteTableDef()

def order_filter(query: Mapping[str, str]) -> OrderFilter:
    """The search form's fields (empty ones mean any)."""
    def moment(name: str) -> datetime | None:
        text = query.get(name) or ""
        try:
            value = datetime.fromisoformat(text) if text else None
        except ValueError:
            raise DomainError(f"{name} must be a date and time.", code="invalid_field", field=name) from None
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    contest = query.get("contest_id") or ""
    return OrderFilter(msisdn=query.get("msisdn") or None, reference=query.get("reference") or None,
                       status=query.get("status") or None, candidate=query.get("candidate") or None,
                       channel=query.get("channel") or None, provider=query.get("provider") or None,
                       contest_id=entered_whole(contest, "contest_id", high=INTEGER_MAX) if contest else None,
                       since=moment("since"), until=moment("until"))


def channel_names(request: web.Request) -> list[str]:
    names: tuple[str, ...] = request.app[CHANNEL_NAMES]
    return list(names)


@routes.get("/admin/orders")
@guarded("orders.read")
async def orders_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    context: dict[str, Any] = {"q": OrderFilter(), "rows": [], "statuses": [s.value for s in OrderStatus],
                               "channels": channel_names(request), "since": request.query.get("since", ""),
                               "until": request.query.get("until", "")}
    try:
        wanted = order_filter(request.query)
        context.update(q=wanted, rows=await orders_admin.search_orders(request.app[SESSIONS], actor, wanted))
    except DomainError as exc:
        return render(request, "orders.html", {**context, "error": exc.message}, actor, exc.status)
    return render(request, "orders.html", context, actor)


def order_id_of(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["order_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


@routes.get("/admin/orders/{order_id}")
@guarded("orders.read")
async def order_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    detail = await orders_admin.order_detail(request.app[SESSIONS], actor, order_id_of(request))
    return render(request, "order.html", {"detail": detail, "can_resend": allowed(actor.role, "orders.resend"),
                                          "can_refund": allowed(actor.role, "orders.refund")}, actor)


@routes.post("/admin/orders/{order_id}/resend")
@guarded("orders.resend")
async def resend_receipt(request: web.Request, actor: Actor) -> web.StreamResponse:
    order_id = order_id_of(request)
    await orders_admin.resend_receipt(request.app[SESSIONS], actor, order_id)
    raise see_other(f"/admin/orders/{order_id}")


@routes.post("/admin/orders/{order_id}/refund")
@guarded("orders.refund")
async def refund_order(request: web.Request, actor: Actor) -> web.StreamResponse:
    order_id = order_id_of(request)
    form = await form_of(request)
    await orders_admin.refund_order(request.app[SESSIONS], request.app[PROVIDERS], actor, order_id,
                                    str(form.get("reason", "")))
    raise see_other(f"/admin/orders/{order_id}")


@routes.get("/admin/review")
@guarded("review.read")
async def review_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    items = await orders_admin.waiting_reviews(request.app[SESSIONS])
    return render(request, "review.html", {"items": items, "decisions": orders_admin.DECISIONS,
                                           "can_decide": allowed(actor.role, "review.decide")}, actor)


@routes.post("/admin/review/{order_id}")
@guarded("review.decide")
async def review_decision(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    await orders_admin.decide(request.app[SESSIONS], request.app[PROVIDERS], actor, order_id_of(request),
                              str(form.get("kind", "")), str(form.get("decision", "")), str(form.get("reason", "")))
    raise see_other("/admin/review")
