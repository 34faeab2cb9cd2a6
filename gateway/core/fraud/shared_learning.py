"""Addresses the service learns many people share: besides the mobile operators' networks it knows
(gateway.core.fraud.shared_addresses), an address from which many distinct payer numbers paid in a day, none of whose
orders in the last week a rule held, a provider disowned or a person refused, is a crowd's (a campus's, a
company's, a smaller operator's NAT). One held, flagged or refunded order takes the address off the list at the
next pass: a crowd that harbours a fraudster is judged as one place again, and its orders as a person's.

Run by the worker every ten minutes, off the voting path. Its candidates come from the fraud rules' counters (an
address's distinct numbers today), so a pass reads the orders of a few busy addresses, not the week's orders; the
placement reads the result with one key lookup.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, distinct, func, select
from sqlalchemy.dialects.postgresql import insert

from gateway.core.fraud.fraud_counters import DAY
from gateway.core.fraud.shared_addresses import carrier_of
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import Contest, ContestStatus, FraudCount, OrderStatus, SharedAddress, VoteOrder

NUMBERS_TO_LEARN = 30  # distinct payer numbers that paid from one address in a day
WINDOW = timedelta(days=7)  # how far back a reported order forbids learning
PAID = (OrderStatus.PAID,)
REPORTED = (OrderStatus.HELD, OrderStatus.FLAGGED, OrderStatus.REFUND_REQUESTED, OrderStatus.REFUNDED)


async def is_shared(sessions: Sessions, address: str) -> bool:
    """Whether many people share `address`, as the fraud rules judge it: a mobile operator's network, or an address
    learned here. A carrier's costs no I/O; any other one key lookup."""
    if carrier_of(address) is not None:
        return True
    async with autocommit(sessions) as session:
        return await session.scalar(select(SharedAddress.address).where(SharedAddress.address == address)) is not None


async def candidates(sessions: Sessions, now: datetime) -> list[str]:
    """Addresses with many payer numbers today or yesterday (the counters say so), and those learned before:
    besides the operators' networks, known anyway."""
    today = int(now.timestamp()) // DAY
    async with sessions() as session:
        # By the counters' key (contest, name, …): the open contests' addresses, never the payers' many rows.
        open_contests = select(Contest.id).where(Contest.status == ContestStatus.OPEN)
        busy = (await session.scalars(select(FraudCount.subject).distinct().where(
            FraudCount.contest_id.in_(open_contests), FraudCount.name == "address_numbers_day",
            FraudCount.bucket >= today - 1,
            func.greatest(FraudCount.current, FraudCount.previous) >= NUMBERS_TO_LEARN))).all()
        learned = (await session.scalars(select(SharedAddress.address))).all()
    return sorted({address for address in busy if carrier_of(address) is None} | set(learned))


async def learn_shared_addresses(sessions: Sessions, now: datetime) -> tuple[int, int]:
    """Learn the candidates that qualify now, forget those whose orders were reported since; returns how many of
    each."""
    addresses = await candidates(sessions, now)
    if not addresses:
        return 0, 0
    o = VoteOrder.__table__.c
    day_numbers = func.count(distinct(o.voter_msisdn)).filter(o.status.in_(PAID),
                                                              o.created_at > now - timedelta(days=1))
    seen = (select(o.voter_address.label("address"), day_numbers.label("numbers"),
                   func.count().filter(o.status.in_(PAID)).label("paid_orders"),
                   func.count().filter(o.status.in_(REPORTED)).label("reported"))
            .where(o.voter_address == func.any(addresses), o.created_at > now - WINDOW,
                   o.voter_msisdn.is_not(None))
            .group_by(o.voter_address).cte("seen"))
    learned = insert(SharedAddress).from_select(
        ["address", "numbers", "paid_orders"],
        select(seen.c.address, seen.c.numbers, seen.c.paid_orders)
        .where(seen.c.numbers >= NUMBERS_TO_LEARN, seen.c.reported == 0))
    learned = learned.on_conflict_do_update(
        index_elements=["address"], set_={"numbers": learned.excluded.numbers,
                                          "paid_orders": learned.excluded.paid_orders, "learned_at": func.now()})
    async with sessions.begin() as session:
        added = (await session.execute(learned.add_cte(seen).returning(SharedAddress.address))).all()
        forgotten = (await session.execute(delete(SharedAddress).where(SharedAddress.address.in_(
            select(seen.c.address).where(seen.c.reported > 0))).add_cte(seen).returning(SharedAddress.address))).all()
    return len(added), len(forgotten)
