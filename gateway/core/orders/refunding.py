"""Refunds: the provider's report of one settled on the order, and an order taken off the tally by a person."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.errors import NotFound
from gateway.core.money import money_text
from gateway.core.orders import accounting
from gateway.core.orders.outcomes import RefundSettled
from gateway.core.outbox import emit
from gateway.core.results import ledger
from gateway.db.engine import Sessions
from gateway.db.models import (
    AuditEntry,
    OrderStatus,
    VoteOrder,
)

NOT_COUNTED_YET = (OrderStatus.PENDING, OrderStatus.EXPIRED, OrderStatus.FAILED)  # a later "paid" may count these


async def settle_refund(sessions: Sessions, order_id: uuid.UUID, refunded: int | None, currency: str | None,
                        provider_txn_id: str | None) -> RefundSettled:
    """A refund the provider reports, in any state of the order: never dropped, never leaves its money counted.

    In full (or of an unknown amount): the order ends `refunded`, leaving the tally if it was counted; one
    not counted yet goes straight there, so a "paid" arriving later finds it decided. In part (made by hand,
    e.g. in Stripe's dashboard): which votes that money stood for is a person's call, so the refund is
    recorded for review (audit entry + outbox), a counted order keeps its votes, and an order not counted
    yet is flagged so that it never is. A refund in another currency cannot be compared: a person's call too.
    One transaction on the locked order row: safe to repeat, and a crash inside it changes nothing.
    """
    async with sessions.begin() as session:
        order = await session.get(VoteOrder, order_id, with_for_update=True)
        if order is None:
            raise NotFound("No vote order has that id.", code="order_not_found")
        if order.status is OrderStatus.REFUNDED:
            return RefundSettled.ALREADY_DECIDED
        refund_currency = (currency or order.currency).upper()
        if refunded is None or (refund_currency == order.currency and refunded >= order.amount):
            await refund_in_full(session, order, provider_txn_id)
            return RefundSettled.REFUNDED
        if not await _partial_refund_recorded(session, order_id, refunded):  # else: the same event settled again
            await _record_partial_refund(session, order, refunded, refund_currency)
        if order.status in NOT_COUNTED_YET:
            await _flag_partly_refunded(session, order, money_text(refunded, refund_currency), provider_txn_id)
        return RefundSettled.PARTIAL_REFUND


async def _flag_partly_refunded(session: AsyncSession, order: VoteOrder, refund: str,
                                provider_txn_id: str | None) -> None:
    """Set an order not counted yet aside for good: a later "paid" must not count money partly given back."""
    order.status = OrderStatus.FLAGGED
    order.status_reason = (f"partial refund of {refund} by the provider before it was counted "
                           f"(order is {money_text(order.amount, order.currency)}): a person decides")
    order.provider_txn_id = order.provider_txn_id or provider_txn_id
    order.decided_at = datetime.now(UTC)
    order.start_lease_until = None
    await emit(session, "order.flagged", order_id=str(order.id), contest_id=order.contest_id)


async def refund_in_full(session: AsyncSession, order: VoteOrder, provider_txn_id: str | None) -> None:
    """Move a not-yet-refunded order to `refunded`; only a paid one has votes to take off."""
    if order.status is OrderStatus.PAID:
        order.provider_txn_id = order.provider_txn_id or provider_txn_id
        await accounting.record_change(session, ledger.EntryKind.REFUNDED, order, sign=-1)  # and the tally
        await emit(session, "vote.uncounted", order_id=str(order.id), contest_id=order.contest_id)
        reason = "refunded by the provider"
    elif order.status is OrderStatus.REFUND_REQUESTED:
        reason = "refunded by the provider"
    else:  # pending, expired, failed or flagged: never counted, and now it never will be
        was = f"{order.status.value}: {order.status_reason}" if order.status_reason else order.status.value
        reason = f"refunded in full by the provider before it was counted (it was {was})"
        order.decided_at = datetime.now(UTC)
        order.start_lease_until = None
        await emit(session, "order.refunded", order_id=str(order.id), contest_id=order.contest_id)
    order.provider_txn_id = order.provider_txn_id or provider_txn_id
    order.status = OrderStatus.REFUNDED
    order.status_reason = reason


async def _record_partial_refund(session: AsyncSession, order: VoteOrder, refunded: int, currency: str) -> None:
    details = {"provider": order.provider, "refunded": refunded, "amount": order.amount, "currency": currency,
               "order_currency": order.currency, "order_status": order.status.value}
    session.add(AuditEntry(actor="system", action="payment.partial_refund", target=str(order.id), details=details))
    await emit(session, "payment.partial_refund", order_id=str(order.id), contest_id=order.contest_id, **details)


async def _partial_refund_recorded(session: AsyncSession, order_id: uuid.UUID, refunded: int) -> bool:
    """Stripe reports the refunded total, so one total recorded before is the same refund seen again."""
    return bool(await session.scalar(select(AuditEntry.id).where(
        AuditEntry.action == "payment.partial_refund", AuditEntry.target == str(order_id),
        AuditEntry.details["refunded"].as_integer() == refunded).limit(1)))


async def uncount(sessions: Sessions, order_id: uuid.UUID, to: OrderStatus, reason: str,
                  note: Callable[[OrderStatus], AuditEntry] | None = None) -> OrderStatus:
    """Move a paid (or refund-requested, or late: never counted) order to a refund state; a paid one leaves the
    tally. Returns the status the order ends in: `to`, or the one it already had where it could not move (a
    provider's refund webhook settled it first). `note` makes the audit row of that end state, kept in the same
    transaction, so a crash never leaves the votes off the board and the money gone with no record of who and why."""
    allowed = {OrderStatus.REFUND_REQUESTED: {OrderStatus.PAID, OrderStatus.LATE},
               OrderStatus.REFUNDED: {OrderStatus.PAID, OrderStatus.REFUND_REQUESTED, OrderStatus.LATE}}[to]
    async with sessions.begin() as session:
        order = await session.get(VoteOrder, order_id, with_for_update=True)
        if order is None:
            raise NotFound("No vote order has that id.", code="order_not_found")
        if order.status in allowed:
            if order.status is OrderStatus.PAID:
                await accounting.record_change(session, ledger.EntryKind.REFUNDED, order, sign=-1)  # and the tally
                await emit(session, "vote.uncounted", order_id=str(order_id), contest_id=order.contest_id)
            order.status = to
            order.status_reason = reason
        if note is not None:
            session.add(note(order.status))
        return order.status
