"""Refunding a paid order: through the provider where it can, else marked for a person; audited.

The one refund path: `gateway refund`, the review queue's "refund" and an owner's refund from an order's page
all come here."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import func, select

from gateway.core.audit import Actor
from gateway.core.contests.scope import contest_in_scope
from gateway.core.errors import Conflict, NotFound, ProviderFailed
from gateway.core.money_in.collections import load_collection
from gateway.core.money_in.money_arrived import confirm_money_in
from gateway.core.orders import refunding
from gateway.core.providers import Collection, PaymentError, PaymentState, Providers, RefundUnsupported
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import AuditEntry, OrderStatus, Refund, VoteOrder

# The advisory-lock class of refunds (two-key locks: apart from the one-key locks of gateway.core.orders.placing).
REFUND_LOCKS = 2026112301
REFUNDED_ALREADY = (OrderStatus.REFUND_REQUESTED, OrderStatus.REFUNDED)
# Paid, or paid too late to count (gateway.core.contests.late_votes: its refund is the system's, late_refunds).
REFUNDABLE = (OrderStatus.PAID, OrderStatus.LATE)


@dataclass(frozen=True)
class RefundOutcome:
    status: OrderStatus
    message: str


@asynccontextmanager
async def one_refund_at_a_time(sessions: Sessions, order_id: uuid.UUID) -> AsyncIterator[None]:
    """Refunds of one order in turn (a double click, two owners, the CLI and a page): the second starts once the
    first has settled the order, finds it no longer paid, and changes nothing. The lock is a transaction's, held
    over the provider's call, so a process that dies mid-refund lets it go."""
    async with sessions.begin() as session:
        await session.execute(select(func.pg_advisory_xact_lock(REFUND_LOCKS, func.hashtext(str(order_id)))))
        yield


async def request_refund(sessions: Sessions, registry: Providers, order_id: uuid.UUID, actor: str, *,
                         reason: str | None = None, address: str | None = None) -> RefundOutcome:
    """Refund a paid order: through the provider's API where it has one (Stripe, Stars: at once; MTN's Disbursement:
    owed, then sent by the refunds pass, gateway.core.money_out.refunds_sent), else mark it `refund_requested` for a
    person to pay back by hand. Either way its votes leave the tally now, once. Refused while the provider does not
    confirm the money came in (gateway.core.money_in.money_arrived)."""
    async with one_refund_at_a_time(sessions, order_id):
        async with autocommit(sessions) as session:
            loaded = await load_collection(session, order_id)
        if loaded is None:
            raise NotFound("No vote order has that id.", code="order_not_found")
        order, collection = loaded
        if order.status in REFUNDED_ALREADY:
            raise Conflict(f"This order is already refunded or marked for a refund ({order.status.value}).",
                           code="already_refunded")
        if order.status not in REFUNDABLE:
            raise Conflict(f"Only a paid order can be refunded; this one is {order.status.value}.", code="not_paid")
        await confirm_money_in(sessions, registry, order_id)
        if registry.refunder(order.provider) is not None:  # owed: sent, and followed, by the refunds pass
            status, message = OrderStatus.REFUND_REQUESTED, f"Refund owed: {order.provider} sends it back by itself."
        else:
            status, message = await _refund_at_provider(registry, order.provider, order.channel, collection)

        def noted(ended: OrderStatus) -> AuditEntry:
            details = {"status": ended.value, "message": message, **({"reason": reason} if reason else {})}
            return AuditEntry(actor=actor, action="order.refund", target=str(order_id), details=details,
                              address=address)

        ended = await refunding.uncount(sessions, order_id, status, message, note=noted)
    return RefundOutcome(ended, message)


async def _refund_at_provider(registry: Providers, provider: str, channel: str, collection: Collection,
                              ) -> tuple[OrderStatus, str]:
    try:
        result = await registry.for_order(provider, channel).refund(collection)
    except RefundUnsupported as exc:
        return OrderStatus.REFUND_REQUESTED, f"Marked for a manual refund: {exc.message}"
    except PaymentError as exc:  # nothing changed here: the order stays paid, its votes counted
        raise ProviderFailed(f"{exc.provider} did not refund: {exc.message} Nothing changed; try again.",
                             code="refund_failed") from exc
    if result.state is PaymentState.REFUNDED:
        return OrderStatus.REFUNDED, "Refunded by the provider."
    return OrderStatus.REFUND_REQUESTED, "Refund sent to the provider; waiting for it to settle."



async def refunds_of(sessions: Sessions, actor: Actor, contest_id: int, last: int = 200) -> list[Refund]:
    """The refunds sent by a provider's API for the contest's orders, newest first (an organiser sees their own)."""
    async with sessions() as session:
        contest = await contest_in_scope(session, actor, contest_id)
        return list((await session.scalars(
            select(Refund).join(VoteOrder, VoteOrder.id == Refund.order_id).where(VoteOrder.contest_id == contest.id)
            # A contest's owed refunds are made in one statement, so share their time: the id keeps their order
            # (and which are cut off past `last`) the same from one look to the next.
            .order_by(Refund.created_at.desc(), Refund.id.desc()).limit(last))).all())
