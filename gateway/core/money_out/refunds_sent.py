"""Refunds a provider sends by its own API (MTN's Disbursement), going out by themselves.

An order in `refund_requested` is money owed back, whoever decided it (a held order rejected, an owner's refund,
the review queue): that state is the durable promise. A pass of the worker turns each such order of a provider
that refunds by API into a `refunds` row (`owe_refunds`), whose id is the reference the provider gets, written
before any call; then sends what is owed and follows what was sent (`refunds_pass`):

- requested: sent with its reference; taken (202, or 409 for a reference the provider has: an earlier attempt
  got through before a crash or a lost answer) → sent; a time-out or 5xx → tried again later, same reference;
  refused for good → failed, for a person;
- sent: its status read (within the provider's cap): successful for the order's amount → the order `refunded`,
  in one transaction with the refund; failed → failed, for a person; unknown to the provider (it never got it)
  → requested again, same reference; pending → looked at again later.

Nothing is sent twice: one open refund per order (a unique index), and one reference per refund.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.money_out.outgoing_rows import FIRST_LOOK, claim_due, due_again, later, move
from gateway.core.payments.collections import load_collection
from gateway.core.providers import (
    CollectionNotFound,
    OutgoingRefund,
    PaymentError,
    PaymentState,
    ProviderRateLimited,
    Providers,
    StatusResult,
)
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, OrderStatus, OutboxMessage, Refund, RefundState, VoteOrder

log = logging.getLogger(__name__)
OPEN = (RefundState.REQUESTED, RefundState.SENT)


@dataclass(frozen=True)
class RefundTurn:
    refund_id: uuid.UUID
    outcome: str  # sent | retry | succeeded | failed | pending | resend | skipped


async def owe_refunds(sessions: Sessions, registry: Providers) -> int:
    """A `refunds` row for each order owed back by a provider that refunds by API and not owed one yet."""
    orders = VoteOrder.__table__.c
    async with sessions() as session:
        owing = await session.scalars(select(orders.provider).where(orders.status == OrderStatus.REFUND_REQUESTED)
                                      .distinct())
        providers = [name for name in owing if registry.refunder(name) is not None]
    if not providers:
        return 0
    # Each order locked, and its state read again once locked: a person marking it refunded by hand holds the
    # same lock (gateway.core.oversight.orders_admin), so one of the two sees the other's refund and stands back.
    owed = (select(func.gen_random_uuid(), orders.id, orders.provider, orders.amount, orders.currency,
                   func.coalesce(orders.status_reason, literal("refund requested")), literal("system"))
            .where(orders.status == OrderStatus.REFUND_REQUESTED, orders.provider.in_(providers),
                   ~select(Refund.id).where(Refund.order_id == orders.id).exists())
            .with_for_update(skip_locked=True))
    async with sessions.begin() as session:
        result = await session.execute(  # two passes at once: the second's rows meet the unique index, skipped
            insert(Refund).from_select(["id", "order_id", "provider", "amount", "currency", "reason",
                                        "requested_by"], owed)
            .on_conflict_do_nothing().returning(Refund.id))
        return len(result.all())


async def refunds_pass(sessions: Sessions, registry: Providers, now: datetime) -> list[RefundTurn]:
    """Owe, send and follow what is due; one refund's failure never stops the others."""
    await owe_refunds(sessions, registry)
    turns = []
    for refund in await claim_due(sessions, Refund, OPEN, now):
        try:
            turns.append(RefundTurn(refund.id, await take_turn(sessions, registry, refund, now)))
        except Exception:  # the claim's lease brings it back
            log.exception("refund %s: its turn failed", refund.id)
    return turns


async def take_turn(sessions: Sessions, registry: Providers, refund: Refund, now: datetime) -> str:
    refunder = registry.refunder(refund.provider)
    async with sessions() as session:
        loaded = await load_collection(session, refund.order_id)
    if refunder is None or loaded is None:
        return "skipped"
    outgoing = OutgoingRefund(refund.id, loaded[1], refund.amount, refund.currency)
    if refund.state is RefundState.REQUESTED:
        try:
            await refunder.send_refund(outgoing)
        except PaymentError as exc:
            if exc.retryable:
                await _due_again(sessions, refund.id, now + later(refund.attempts))
                return "retry"
            await _failed(sessions, refund, f"{exc.code}: {exc.message}")
            return "failed"
        await _move(sessions, refund.id, RefundState.SENT, now + FIRST_LOOK)
        return "sent"
    try:
        status = await refunder.refund_status(outgoing)
    except CollectionNotFound:  # the provider never got it: send it again, under the same reference
        await _move(sessions, refund.id, RefundState.REQUESTED, now)
        return "resend"
    except (ProviderRateLimited, PaymentError):
        await _due_again(sessions, refund.id, now + later(refund.attempts))
        return "retry"
    return await _settle(sessions, refund, status, now)


async def _settle(sessions: Sessions, refund: Refund, status: StatusResult, now: datetime) -> str:
    if status.state is PaymentState.PENDING:
        await _due_again(sessions, refund.id, now + later(refund.attempts))
        return "pending"
    if status.state is not PaymentState.SUCCESSFUL or status.amount != refund.amount:
        reason = status.reason or status.raw_status or "the provider's refund did not succeed"
        if status.state is PaymentState.SUCCESSFUL:
            reason = f"the provider refunded {status.amount} {status.currency}, {refund.amount} were owed"
        await _failed(sessions, refund, reason)
        return "failed"
    async with sessions.begin() as session:
        order = await session.get(VoteOrder, refund.order_id, with_for_update=True)
        row = await session.get(Refund, refund.id, with_for_update=True)
        assert order is not None and row is not None
        row.state, row.decided_at, row.provider_txn_id = RefundState.SUCCEEDED, now, status.provider_txn_id
        if order.status is OrderStatus.REFUND_REQUESTED:
            order.status, order.status_reason = OrderStatus.REFUNDED, f"refunded by {refund.provider}"
        _note(session, refund, "refund.succeeded", {"provider_txn_id": status.provider_txn_id})
    return "succeeded"


async def _move(sessions: Sessions, refund_id: uuid.UUID, state: RefundState, due_at: datetime) -> None:
    await move(sessions, Refund, refund_id, OPEN, state, due_at)


async def _due_again(sessions: Sessions, refund_id: uuid.UUID, due_at: datetime) -> None:
    await due_again(sessions, Refund, refund_id, due_at)


async def _failed(sessions: Sessions, refund: Refund, reason: str) -> None:
    """Refused for good: the order stays owed (`refund_requested`), and a person sees why on it."""
    async with sessions.begin() as session:
        await session.execute(update(Refund).where(Refund.id == refund.id).values(
            state=RefundState.FAILED, provider_reason=reason[:1000], decided_at=func.now()))
        await session.execute(update(VoteOrder).where(VoteOrder.id == refund.order_id,  # what its page says now
                                                      VoteOrder.status == OrderStatus.REFUND_REQUESTED)
                              .values(status_reason=f"{refund.provider} refused the refund: {reason}"[:1000]))
        _note(session, refund, "refund.failed", {"reason": reason})
        session.add(OutboxMessage(topic="order.flagged", payload={"order_id": str(refund.order_id)}))
    log.warning("refund %s of order %s failed: %s", refund.id, refund.order_id, reason)


def _note(session: AsyncSession, refund: Refund, action: str, details: dict[str, object]) -> None:
    session.add(AuditEntry(actor="system", action=action, target=str(refund.order_id), details={
        "refund": str(refund.id), "provider": refund.provider, "amount": refund.amount,
        "currency": refund.currency, **details}))
