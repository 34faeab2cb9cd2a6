"""The orders that need a person: money moved and the system would not decide alone.

Flagged orders (amount mismatch, success after expiry, a provider unreadable for hours, a verification that
disagreed), orders held by a fraud rule, a second payment for a paid order, a partial refund made at the
provider, refunds to pay back by hand or that the provider refused, and a success a provider reported that we
could not verify for an order not counted.
The outbox topics for these (`order.flagged`, `payment.duplicate`, `payment.partial_refund`) have no
handler yet; until the admin area lists them, `gateway review` does.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, Text, cast, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.money import money_text
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import AuditEntry, Contest, OrderStatus, ProviderEvent, Refund, RefundState, VoteOrder


class ReviewKind(StrEnum):
    FLAGGED = "flagged"
    DUPLICATE_PAYMENT = "duplicate_payment"
    PARTIAL_REFUND = "partial_refund"
    REFUND_REQUESTED = "refund_requested"  # owed back, no provider sending it: a person pays it back by hand
    REFUND_FAILED = "refund_failed"  # the provider refused the refund it was sent: send it again, or by hand
    UNVERIFIED_PAYMENT = "unverified_payment"
    HELD = "held"  # paid, held out of the tally by a fraud rule (gateway.core.fraud.holds): count it or reject it


@dataclass(frozen=True)
class EventSeen:
    """One provider event of the order (its body stays in provider_events)."""

    kind: str
    outcome: str | None
    received_at: datetime


@dataclass(frozen=True)
class ReviewItem:
    kind: ReviewKind
    reason: str
    noted_at: datetime
    order_id: uuid.UUID
    status: OrderStatus
    contest: str
    provider: str
    amount: int
    currency: str
    quantity: int
    voter: str | None
    events: tuple[EventSeen, ...] = ()


async def orders_to_review(sessions: Sessions) -> list[ReviewItem]:
    """Every order a person must look at, the longest waiting first, each with its provider events."""
    async with autocommit(sessions) as session:
        found = [*await _by_status(session), *await _by_audit(session), *await _by_unverified_success(session)]
        events = await _events(session, {item.order_id for item in found})
    found.sort(key=lambda item: (item.noted_at, str(item.order_id)))
    return [replace(item, events=tuple(events[item.order_id])) for item in found]


def _orders() -> Select[VoteOrder, str]:
    return select(VoteOrder, Contest.slug).join(Contest, Contest.id == VoteOrder.contest_id)


def _item(kind: ReviewKind, reason: str, noted_at: datetime, order: VoteOrder, contest: str) -> ReviewItem:
    return ReviewItem(kind, reason, noted_at, order.id, order.status, contest, order.provider, order.amount,
                      order.currency, order.quantity, order.voter_msisdn or order.voter_ref)


async def _by_status(session: AsyncSession) -> list[ReviewItem]:
    """Flagged and held orders, and refunds owed: to pay back by hand, or whose refund the provider refused. A
    refund the provider is sending (gateway.core.money_out.refunds_sent) waits for nobody: one refund at a time."""
    waiting = {OrderStatus.FLAGGED: ReviewKind.FLAGGED, OrderStatus.REFUND_REQUESTED: ReviewKind.REFUND_REQUESTED,
               OrderStatus.HELD: ReviewKind.HELD}
    rows = (await session.execute(_orders().where(VoteOrder.status.in_(waiting)))).all()
    owed = {order.id for order, _ in rows if order.status is OrderStatus.REFUND_REQUESTED}
    sent = await latest_refunds(session, owed)
    items = []
    for order, slug in rows:
        refund = sent.get(order.id)
        if refund is None:
            items.append(_item(waiting[order.status], _reason(order), order.updated_at, order, slug))
        elif refund.state is RefundState.FAILED:
            items.append(_item(ReviewKind.REFUND_FAILED, refund_failed_reason(refund), refund.decided_at or
                               refund.updated_at, order, slug))
    return items


async def latest_refunds(session: AsyncSession, order_ids: set[uuid.UUID]) -> dict[uuid.UUID, Refund]:
    """Each order's last refund sent by its provider's API, if it had any."""
    if not order_ids:
        return {}
    rows = await session.scalars(select(Refund).where(Refund.order_id.in_(order_ids))
                                 .ext(distinct_on(Refund.order_id)).order_by(Refund.order_id, Refund.created_at.desc()))
    return {refund.order_id: refund for refund in rows}


def refund_failed_reason(refund: Refund) -> str:
    return (f"{refund.provider} refused the refund {refund.id} ({money_text(refund.amount, refund.currency)}): "
            f"{refund.provider_reason or 'no reason given'}. Send it again, or pay it back by hand.")


def _reason(order: VoteOrder) -> str:
    if order.status is OrderStatus.HELD:
        return f"held by a fraud rule ({order.hold_reason}): count it or reject it"
    return order.status_reason or order.status.value


async def _by_audit(session: AsyncSession) -> list[ReviewItem]:
    """Second payments (always: the extra money is ours to give back) and partial refunds of orders still paid."""
    rows = (await session.execute(
        _orders().add_columns(AuditEntry)
        .join(AuditEntry, AuditEntry.target == cast(VoteOrder.id, Text))
        .where(AuditEntry.action.in_(("payment.duplicate", "payment.partial_refund"))))).all()
    items = []
    for order, slug, entry in rows:
        if entry.action == "payment.duplicate":
            items.append(_item(ReviewKind.DUPLICATE_PAYMENT, duplicate_reason(entry.details), entry.created_at,
                               order, slug))
        elif order.status is OrderStatus.PAID:  # refunded in full since: nothing left to decide
            items.append(_item(ReviewKind.PARTIAL_REFUND, partial_refund_reason(entry.details), entry.created_at,
                               order, slug))
    return items


# A provider said "paid" in a way we could not check (Orange: the token of a page whose answer never reached
# us; its status call needs that page's pay_token): money may have moved with no vote to show for it.
UNVERIFIED_SUCCESS = "notification.success.unverified"
UNDECIDED = (OrderStatus.PENDING, OrderStatus.EXPIRED, OrderStatus.FAILED)


async def _by_unverified_success(session: AsyncSession) -> list[ReviewItem]:
    """Orders not counted that a provider reported paid in words we could not verify: look at its portal."""
    rows = (await session.execute(
        _orders().add_columns(ProviderEvent.received_at)
        .join(ProviderEvent, ProviderEvent.order_id == VoteOrder.id)
        .where(ProviderEvent.kind == UNVERIFIED_SUCCESS, VoteOrder.status.in_(UNDECIDED))
        .ext(distinct_on(VoteOrder.id)).order_by(VoteOrder.id, ProviderEvent.received_at))).all()
    reason = ("{provider} reported a success we could not check (a payment page whose answer never reached "
              "us); look the payment up in the provider's portal and count or refund it")
    return [_item(ReviewKind.UNVERIFIED_PAYMENT, reason.format(provider=order.provider), seen, order, slug)
            for order, slug, seen in rows]


def duplicate_reason(details: dict[str, Any]) -> str:
    paid = money_text(details.get("amount"), details.get("currency"))
    return (f"a second payment ({details.get('second_txn')}, {paid}) for an order already paid "
            f"({details.get('paid_txn')}): refund it")


def partial_refund_reason(details: dict[str, Any]) -> str:
    return (f"{money_text(details.get('refunded'), details.get('currency'))} of "
            f"{money_text(details.get('amount'), details.get('order_currency'))} refunded at the provider; the votes "
            "still count: decide which")


async def _events(session: AsyncSession, order_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[EventSeen]]:
    events: dict[uuid.UUID, list[EventSeen]] = defaultdict(list)
    if not order_ids:
        return events
    rows = await session.execute(
        select(ProviderEvent.order_id, ProviderEvent.kind, ProviderEvent.outcome, ProviderEvent.received_at)
        .where(ProviderEvent.order_id.in_(order_ids)).order_by(ProviderEvent.received_at, ProviderEvent.id))
    for order_id, kind, outcome, received_at in rows:
        if order_id is not None:  # always: the query asks for these ids (the column itself may be empty)
            events[order_id].append(EventSeen(kind, outcome, received_at))
    return events
