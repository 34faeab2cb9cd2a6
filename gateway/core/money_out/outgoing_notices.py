"""A provider's callback about money going out (MTN Disbursement's, on the URL we gave with a refund or a transfer):
never trusted for what it says, whatever it says; it only brings the next status read of that refund or payout
forward (the worker's passes read it and settle it, gateway.core.money_out.refunds_sent and payouts_sent). A
callback about a reference we never sent changes nothing."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update

from gateway.db.engine import Sessions
from gateway.db.models import Payout, PayoutState, Refund, RefundState


async def notice(sessions: Sessions, reference: uuid.UUID) -> bool:
    """Whether `reference` is a refund or payout of ours; an open one is due for its status read now."""
    async with sessions.begin() as session:
        for due in (update(Refund).where(Refund.id == reference,
                                         Refund.state.in_([RefundState.REQUESTED, RefundState.SENT]))
                    .values(due_at=func.now()).returning(Refund.id),
                    update(Payout).where(Payout.id == reference,
                                         Payout.state.in_([PayoutState.REQUESTED, PayoutState.SENT]))
                    .values(due_at=func.now()).returning(Payout.id)):
            if await session.scalar(due) is not None:
                return True
        known = (await session.scalar(select(Refund.id).where(Refund.id == reference))
                 or await session.scalar(select(Payout.id).where(Payout.id == reference)))
    return known is not None  # a late word on one decided already: ours, nothing to do
