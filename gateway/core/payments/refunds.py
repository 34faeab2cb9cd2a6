"""Refunding a paid order: through the provider where it can, else marked for a person; audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import insert

from gateway.core import votes
from gateway.core.errors import Conflict, NotFound
from gateway.core.payments.collections import load_collection
from gateway.core.providers import PaymentState, Providers, RefundUnsupported
from gateway.core.votes import Sessions
from gateway.db.engine import autocommit
from gateway.db.models import AuditEntry, OrderStatus


@dataclass(frozen=True)
class RefundOutcome:
    status: OrderStatus
    message: str


async def request_refund(sessions: Sessions, registry: Providers, order_id: uuid.UUID, actor: str,
                         ) -> RefundOutcome:
    """Refund a paid order: through the provider's API where it has one (Stripe), else mark it
    `refund_requested` for a person to pay back by hand. Either way its votes leave the tally now."""
    async with autocommit(sessions) as session:
        loaded = await load_collection(session, order_id)
    if loaded is None:
        raise NotFound("No vote order has that id.", code="order_not_found")
    order, collection = loaded
    if order.status is not OrderStatus.PAID:
        raise Conflict(f"Only a paid order can be refunded; this one is {order.status.value}.", code="not_paid")
    try:
        result = await registry.for_order(order.provider, order.channel).refund(collection)
    except RefundUnsupported as exc:
        status, message = OrderStatus.REFUND_REQUESTED, f"Marked for a manual refund: {exc.message}"
    else:
        done = result.state is PaymentState.REFUNDED
        status = OrderStatus.REFUNDED if done else OrderStatus.REFUND_REQUESTED
        message = "Refunded by the provider." if done else "Refund sent to the provider; waiting for it to settle."
    await votes.uncount(sessions, order_id, status, message)
    await audit(sessions, actor, "order.refund", str(order_id), {"status": status.value, "message": message})
    return RefundOutcome(status, message)


async def audit(sessions: Sessions, actor: str, action: str, target: str, details: dict[str, str]) -> None:
    async with sessions.begin() as session:
        await session.execute(insert(AuditEntry).values(actor=actor, action=action, target=target, details=details))
