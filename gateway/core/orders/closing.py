"""Closing an order that was never paid: failed, expired, cancelled before its start, or set aside for a person."""

from __future__ import annotations

import uuid

from sqlalchemy import (
    func,
    update,
)

from gateway.core.orders.tables import still_pending
from gateway.core.outbox import emit
from gateway.db.engine import Sessions
from gateway.db.models import (
    OrderStatus,
    VoteOrder,
)


async def _close_pending(sessions: Sessions, order_id: uuid.UUID, status: OrderStatus, reason: str) -> bool:
    """Write a terminal non-paid state once; returns whether this call wrote it."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(VoteOrder)
            .where(VoteOrder.id == order_id, still_pending(VoteOrder.status))
            .values(status=status, status_reason=reason, decided_at=func.now(), start_lease_until=None)
            .returning(VoteOrder.contest_id)
        )
        contest_id = result.scalar_one_or_none()
        if contest_id is None:
            return False
        await emit(session, f"order.{status.value}", order_id=str(order_id), contest_id=contest_id)
        return True


async def fail_order(sessions: Sessions, order_id: uuid.UUID, reason: str) -> bool:
    return await _close_pending(sessions, order_id, OrderStatus.FAILED, reason)


async def cancel_if_unstarted(sessions: Sessions, order_id: uuid.UUID, reason: str) -> bool:
    """Fail a pending order no start ever tried (the voter left before the push). Once one tried,
    the prompt may be on the phone even if the start failed or is still under way: the order is
    left to its provider's answer, or a payer who approves would be charged for a vote never counted."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(VoteOrder)
            .where(VoteOrder.id == order_id, still_pending(VoteOrder.status),
                   VoteOrder.payment_started_at.is_(None), VoteOrder.start_attempted_at.is_(None))
            .values(status=OrderStatus.FAILED, status_reason=reason, decided_at=func.now())
            .returning(VoteOrder.contest_id)
        )
        return result.scalar_one_or_none() is not None


async def expire_order(sessions: Sessions, order_id: uuid.UUID, reason: str = "no payment in time") -> bool:
    return await _close_pending(sessions, order_id, OrderStatus.EXPIRED, reason)


async def flag_order(sessions: Sessions, order_id: uuid.UUID, reason: str) -> bool:
    """Set a pending order aside for a person (e.g. the provider did not say how much it took)."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(VoteOrder)
            .where(VoteOrder.id == order_id, still_pending(VoteOrder.status))
            .values(status=OrderStatus.FLAGGED, status_reason=reason, decided_at=func.now())
            .returning(VoteOrder.contest_id)
        )
        contest_id = result.scalar_one_or_none()
        if contest_id is not None:
            await emit(session, "order.flagged", order_id=str(order_id), contest_id=contest_id)
        return contest_id is not None
