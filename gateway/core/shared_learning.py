"""Addresses the service learns many people share: besides the mobile operators' networks it knows
(gateway.core.shared_addresses), an address from which many distinct payer numbers paid in the last week, none of
whose orders a rule held, a provider disowned, or a person refused, is a crowd's (a campus's, a company's, a
smaller operator's NAT). One held, flagged or refunded order takes the address off the list at the next pass: a
crowd that harbours a fraudster is judged as one place again, and its orders as a person's.

Run by the worker every ten minutes, off the voting path; the placement reads the result with one key lookup.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, distinct, func, select
from sqlalchemy.dialects.postgresql import insert

from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, SharedAddress, VoteOrder

NUMBERS_TO_LEARN = 30  # distinct payer numbers that paid from one address in the window
WINDOW = timedelta(days=7)
PAID = (OrderStatus.PAID,)
REPORTED = (OrderStatus.HELD, OrderStatus.FLAGGED, OrderStatus.REFUND_REQUESTED, OrderStatus.REFUNDED)


async def learn_shared_addresses(sessions: Sessions, now: datetime) -> tuple[int, int]:
    """Learn the addresses that qualify now, forget those whose orders were reported since; returns how many of
    each."""
    o = VoteOrder.__table__.c
    seen = (select(o.voter_address.label("address"),
                   func.count(distinct(o.voter_msisdn)).filter(o.status.in_(PAID)).label("numbers"),
                   func.count().filter(o.status.in_(PAID)).label("paid_orders"),
                   func.count().filter(o.status.in_(REPORTED)).label("reported"))
            .where(o.created_at > now - WINDOW, o.voter_address.is_not(None), o.voter_msisdn.is_not(None))
            .group_by(o.voter_address).cte("seen"))
    learned = insert(SharedAddress).from_select(
        ["address", "numbers", "paid_orders"],
        select(seen.c.address, seen.c.numbers, seen.c.paid_orders)
        .where(and_(seen.c.numbers >= NUMBERS_TO_LEARN, seen.c.reported == 0)))
    learned = learned.on_conflict_do_update(
        index_elements=["address"], set_={"numbers": learned.excluded.numbers,
                                          "paid_orders": learned.excluded.paid_orders, "learned_at": func.now()})
    async with sessions.begin() as session:
        added = (await session.execute(learned.add_cte(seen).returning(SharedAddress.address))).all()
        forgotten = (await session.execute(delete(SharedAddress).where(SharedAddress.address.in_(
            select(seen.c.address).where(seen.c.reported > 0))).add_cte(seen).returning(SharedAddress.address))).all()
    return len(added), len(forgotten)
