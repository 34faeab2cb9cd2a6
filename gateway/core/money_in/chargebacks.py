"""A chargeback: the card's owner disputed a payment and the bank took the money back. The order's votes leave the
board (once), the order ends `refunded` with the reason, an audit entry says who recorded it, and the payer's (and
their browser's or chat user's) next orders in the contest are held for a person (gateway.core.fraud.rules's
`payer_history`): a stolen card's thief rarely stops at one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from gateway.core.errors import NotFound
from gateway.core.fraud import fraud_counters
from gateway.core.orders import refunding
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, OrderStatus, VoteOrder


async def record_chargeback(sessions: Sessions, order_id: uuid.UUID, *, actor: str = "system",
                            reason: str = "disputed by the card's owner", now: datetime | None = None) -> bool:
    """Record it, in one transaction on the locked order; False for a chargeback recorded before (nothing
    changes)."""
    async with sessions.begin() as session:
        order = await session.get(VoteOrder, order_id, with_for_update=True)
        if order is None:
            raise NotFound("No vote order has that id.", code="order_not_found")
        before = order.status
        if order.status_reason and order.status_reason.startswith("charged back"):
            return False
        if order.status is not OrderStatus.REFUNDED:
            await refunding.refund_in_full(session, order, None)
        order.status_reason = f"charged back: {reason}"
        session.add(AuditEntry(actor=actor, action="payment.charged_back", target=str(order_id),
                               details={"reason": reason, "before": before.value, "after": order.status.value}))
        await fraud_counters.note_refused(session, order.contest_id, order.voter_msisdn,
                                          fraud_counters.voter_of(order.channel, order.voter_ref),
                                          now or datetime.now(UTC))
        return True
