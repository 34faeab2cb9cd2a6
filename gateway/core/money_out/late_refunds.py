"""Payments too late to count, given back by themselves (gateway.core.contests.late_votes: confirmed after the lines
closed and their grace).

A late order was never counted. A pass of the worker takes each, once the provider's own records have caught up with
its word, through the one refund path (`refunds.request_refund`, as a person's refund would): its money is asked
about first where it is not the provider's word yet (a callback's), then it is given back through the provider's API
(MTN's Disbursement by the refunds pass, Stripe and Stars at once), or marked for a person where the provider has no
refund (Orange). A provider that denies the money came in leaves nothing to give back: the order is flagged for a
person, as any payment in doubt is. A provider that cannot be asked, or still says pending, is asked again next pass.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update

from gateway.core.errors import Conflict, ProviderFailed
from gateway.core.money_out.refunds import request_refund
from gateway.core.outbox import emit
from gateway.core.providers import Providers
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import OrderStatus, VoteOrder

log = logging.getLogger(__name__)

# A provider's records may lag its callback (as a counted order's verification waits: gateway.core.orders.counting).
REFUND_AFTER = timedelta(seconds=30)
# Still pending at the provider this long after its "paid": a person looks, as a verification that never agreed.
PENDING_FOR_A_PERSON_AFTER = timedelta(minutes=15)
BATCH = 50  # late orders a pass takes; the rest wait for the next (every 30 s)
REASON = "paid after the lines closed and their grace"


async def refund_late_orders(sessions: Sessions, registry: Providers, now: datetime) -> list[str]:
    """Give back what is due; one line per late order looked at."""
    async with autocommit(sessions) as session:
        due = list((await session.execute(
            select(VoteOrder.id, VoteOrder.decided_at).where(VoteOrder.status == OrderStatus.LATE,
                                                              VoteOrder.decided_at <= now - REFUND_AFTER)
            .order_by(VoteOrder.decided_at).limit(BATCH))).all())
    return [f"{order_id}: {await refund_one(sessions, registry, order_id, decided_at, now)}"
            for order_id, decided_at in due]


async def refund_one(sessions: Sessions, registry: Providers, order_id: uuid.UUID, decided_at: datetime | None,
                     now: datetime) -> str:
    try:
        outcome = await request_refund(sessions, registry, order_id, "system", reason=REASON)
    except ProviderFailed as exc:
        log.info("late order %s not refunded yet: %s", order_id, exc.message)
        return "asked again later"
    except Conflict as exc:
        if exc.code in ("already_refunded", "not_paid"):
            return "decided meanwhile"
        if exc.code == "money_pending" and decided_at is not None and now - decided_at < PENDING_FOR_A_PERSON_AFTER:
            return "still pending at the provider"
        await flag_for_a_person(sessions, order_id, exc.message)
        return "flagged"
    return outcome.status.value


async def flag_for_a_person(sessions: Sessions, order_id: uuid.UUID, why: str) -> None:
    """The provider does not show the money with us: nothing goes back on our own; a person decides."""
    async with sessions.begin() as session:
        contest_id = await session.scalar(
            update(VoteOrder).where(VoteOrder.id == order_id, VoteOrder.status == OrderStatus.LATE)
            .values(status=OrderStatus.FLAGGED, status_reason=f"{REASON}, not refunded: {why}"[:1000])
            .returning(VoteOrder.contest_id))
        if contest_id is not None:
            await emit(session, "order.flagged", order_id=str(order_id), contest_id=contest_id)
