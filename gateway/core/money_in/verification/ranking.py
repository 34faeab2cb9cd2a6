"""The ranking pass of callback verification: each due entry of the queue gets its rank once, from the facts of its
order (`priority.QueuedOrder`: amount, the payer number's history, how its callback came), so that the
claim (`by_status.claim_next`) reads the queue by rank along an index, never sorting the backlog.

Entries are ranked when they fall due (after `counting.FIRST_VERIFY_AFTER`), not by the statement that counts the
order: a show's hottest statement gains nothing, and the facts are read in batches, a few index look-ups an order.
Each web process's verification loop runs it; a batch is locked while it is ranked (`SKIP LOCKED`), so two
processes never rank the same entries, and an entry being ranked is never the one a claim waits for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import BigInteger, String, all_, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import aliased

from gateway.core.money_in.verification.priority import OriginCounts, QueuedOrder, origin_of, ranked
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, PaymentVerification, ProviderEvent, VoteOrder

RANK_BATCH = 1000  # entries ranked in one transaction

QUEUE = PaymentVerification.__table__.c
ORDERS = VoteOrder.__table__.c
EVENTS = ProviderEvent.__table__.c
EARLIER, OTHER = aliased(VoteOrder), aliased(VoteOrder)
TROUBLED = (OrderStatus.HELD, OrderStatus.FLAGGED)

PAID_BEFORE = exists().where(EARLIER.voter_msisdn == ORDERS.voter_msisdn, EARLIER.created_at < ORDERS.created_at,
                             EARLIER.status == OrderStatus.PAID, EARLIER.id != ORDERS.id)
TROUBLED_PAYER = exists().where(OTHER.voter_msisdn == ORDERS.voter_msisdn, OTHER.id != ORDERS.id,
                                or_(OTHER.status.in_(TROUBLED), OTHER.hold_reason.is_not(None)))
# The callback that counted the order (or held it), as it was kept: its headers tell who sent it.
COUNTING_HEADERS = (select(EVENTS.headers).where(EVENTS.order_id == ORDERS.id, EVENTS.outcome.in_(("counted", "held")))
                    .order_by(EVENTS.id).limit(1).scalar_subquery())
REFUSED = (select(func.count()).where(EVENTS.order_id == ORDERS.id, EVENTS.outcome.like("rejected:%"))
           .scalar_subquery())

UNRANKED = (
    select(QUEUE.order_id, ORDERS.amount, ORDERS.quantity,
           or_(ORDERS.status == OrderStatus.HELD, ORDERS.hold_reason.is_not(None),
               func.coalesce(ORDERS.fraud_score, 0) > 0).label("held"),
           ORDERS.voter_msisdn.is_not(None).label("has_number"), PAID_BEFORE.label("paid_before"),
           and_(ORDERS.voter_msisdn.is_not(None), TROUBLED_PAYER).label("troubled_payer"),
           COUNTING_HEADERS.label("headers"), REFUSED.label("refused"))
    .join(VoteOrder.__table__, ORDERS.id == QUEUE.order_id)
    .where(QUEUE.priority.is_(None), QUEUE.verified_at.is_(None), QUEUE.due_at <= bindparam("rank_now"),
           # a provider verified against its list of payments is claimed by its own pass, never by rank: locking
           # its entries here would make that pass (SKIP LOCKED) pass them over
           ORDERS.provider != all_(bindparam("rank_skip", type_=ARRAY(String))))
    .order_by(QUEUE.priority.desc().nulls_last(), QUEUE.queued_at)  # the claim's index: its unranked end
    .limit(bindparam("rank_limit"))
    .with_for_update(of=PaymentVerification.__table__, skip_locked=True)
)
SET_RANK = (update(PaymentVerification.__table__)
            .where(QUEUE.order_id == bindparam("ranked_order", type_=UUID(as_uuid=True)))
            .values(priority=bindparam("ranked_priority", type_=BigInteger)))


async def rank_due(sessions: Sessions, origins: OriginCounts, now: datetime, limit: int = RANK_BATCH,
                   skip: Sequence[str] = ()) -> int:
    """Rank up to `limit` due entries not ranked yet, oldest first; how many were ranked. `skip`: the providers
    verified by list (`Providers.payment_lists`), whose entries are left alone, as `by_status.claim_next` leaves
    them."""
    async with sessions.begin() as session:
        rows = (await session.execute(UNRANKED, {"rank_now": now, "rank_limit": limit,
                                                 "rank_skip": list(skip)})).all()
        if not rows:
            return 0
        orders = [QueuedOrder(order_id=row.order_id, amount=row.amount, quantity=row.quantity, held=row.held,
                              paid_before=row.paid_before if row.has_number else None,
                              troubled_payer=row.troubled_payer,
                              origin=origin_of(row.headers) if row.headers else None, refused_callbacks=row.refused)
                  for row in rows]
        ranks = ranked(orders, origins)
        await session.execute(SET_RANK, [{"ranked_order": order_id, "ranked_priority": rank}
                                         for order_id, rank in ranks.items()])
    return len(rows)


async def rank_all_due(sessions: Sessions, origins: OriginCounts, now: datetime, limit: int = RANK_BATCH,
                       skip: Sequence[str] = ()) -> int:
    """Rank every due entry not ranked yet, a batch at a time; how many were ranked."""
    total = 0
    while (done := await rank_due(sessions, origins, now, limit, skip)) > 0:
        total += done
        if done < limit:
            break
    return total
