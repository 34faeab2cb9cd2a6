"""The fraud rules' figures as counters kept while orders are placed, so that reading them costs the same at the
millionth vote as at the first (counting them over the order table cost a longer scan for every order from a busy
address).

Each figure is one row per contest and subject (a payer number, an address, a chat user) holding two fixed buckets
of its window, the current one and the one before; the figure over the sliding window is the current bucket plus
the share of the one before that the window still covers (as rate limiters estimate it). A distinct figure (payer
numbers behind one address) counts each member once, in the bucket it was last seen in: a member seen again moves
from its old bucket to the new one, in the same statement, under the row's lock, so concurrent orders never count a
member twice.

The placement runs `COUNT_AND_READ` inside its transaction, after its checks and before its insert: an order that
is refused rolls its counts back with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    String,
    Text,
    bindparam,
    case,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.db.driver_statements import DriverStatement
from gateway.db.models import FraudCount, FraudMember, SharedAddress

MINUTE, HOUR, DAY = 60, 3600, 86400


@dataclass(frozen=True)
class OrderFacts:
    """What the counters know of a new order: who pays, from where, through whom, for what."""

    contest_id: int
    payer: str | None  # E.164
    address: str | None  # the web client's address (an IPv6 client's /64)
    voter: str | None  # `channel:ref` for a channel that names its voter (a chat's user)
    candidate_id: int | None
    quantity: int


@dataclass(frozen=True)
class Counter:
    """One figure: whose (`subject`), over what window, and what an order adds: a count (`adds`) or a distinct
    member (`member`)."""

    name: str  # also the figure's name in `gateway.core.fraud.rules`
    window: int  # seconds
    subject: Callable[[OrderFacts], str | None]
    adds: Callable[[OrderFacts], int] = lambda facts: 1
    member: Callable[[OrderFacts], str | None] | None = None


def _payer(facts: OrderFacts) -> str | None:
    return facts.payer


def _address(facts: OrderFacts) -> str | None:
    return facts.address


def _voter(facts: OrderFacts) -> str | None:
    return facts.voter


def _candidate(facts: OrderFacts) -> str | None:
    return None if facts.candidate_id is None else str(facts.candidate_id)


def _address_if_payer(facts: OrderFacts) -> str | None:
    return facts.address if facts.payer else None


def _voter_if_payer(facts: OrderFacts) -> str | None:
    return facts.voter if facts.payer else None


COUNTERS: tuple[Counter, ...] = (
    Counter("payer_orders_10_minutes", 10 * MINUTE, _payer),
    # Bounds of the contest's hard limits per payer (gateway.core.orders.placing): below them, no count is needed.
    Counter("payer_orders_minute", MINUTE, _payer),
    Counter("payer_orders_day", DAY, _payer),
    Counter("address_orders_10_minutes", 10 * MINUTE, _address),
    Counter("voter_orders_10_minutes", 10 * MINUTE, _voter),
    Counter("payer_votes_day", DAY, _payer, adds=lambda facts: facts.quantity),
    Counter("address_candidates_hour", HOUR, _address, member=_candidate),
    Counter("address_numbers_day", DAY, _address_if_payer, member=_payer),
    Counter("voter_numbers", 30 * DAY, _voter_if_payer, member=_payer),
)
# Read, never added to by a placement: earlier orders of this payer, or of this chat user or browser, that a person
# refused or whose card was charged back (gateway.core.fraud.holds.reject_held, gateway.core.money_in.chargebacks).
PAYER_REFUSED = Counter("payer_refused", 90 * DAY, _payer, adds=lambda facts: 0)
VOTER_REFUSED = Counter("voter_refused", 90 * DAY, _voter, adds=lambda facts: 0)
HISTORY = (PAYER_REFUSED, VOTER_REFUSED)
SHARED = "shared_address"  # the row that says whether the address was learned to be shared
COUNTS, MEMBERS = FraudCount.__table__, FraudMember.__table__


def _count_rows() -> Any:
    """The counters' rows this order adds to (a counter whose subject is unknown adds none), with what a moved
    member takes off the bucket before."""
    moved = _members_moved()
    rows = []
    for counter in COUNTERS:
        name, bucket = literal(counter.name, String), bindparam(f"{counter.name}_bucket", type_=BigInteger)
        adds: Any
        leaves: Any
        if counter.member is None:
            adds, leaves = bindparam(f"{counter.name}_adds", type_=BigInteger), literal(0, BigInteger)
        else:
            adds = select(func.count()).where(moved.c.name == name).scalar_subquery()
            leaves = select(func.count()).where(moved.c.name == name,
                                                moved.c.previous_bucket == bucket - 1).scalar_subquery()
        subject = bindparam(f"{counter.name}_subject", type_=Text)
        rows.append(select(name.label("name"), subject.label("subject"), bucket.label("bucket"),
                           adds.label("adds"), (-leaves).label("leaves")).where(subject.is_not(None)))
    return union_all(*rows).subquery("adding")


def _members_moved() -> Any:
    """The distinct counters' members upserted into their latest bucket; a row for each that moved (new, or seen
    in an earlier bucket), none for one already counted in this bucket."""
    rows = []
    for counter in COUNTERS:
        if counter.member is None:
            continue
        subject = bindparam(f"{counter.name}_subject", type_=Text)
        member = bindparam(f"{counter.name}_member", type_=Text)
        rows.append(select(bindparam("fraud_contest", type_=Integer), literal(counter.name, String), subject, member,
                           bindparam(f"{counter.name}_bucket", type_=BigInteger), literal(None, BigInteger))
                    .where(subject.is_not(None), member.is_not(None)))
    upsert = insert(MEMBERS).from_select(["contest_id", "name", "subject", "member", "bucket", "previous_bucket"],
                                         union_all(*rows))
    return upsert.on_conflict_do_update(
        index_elements=["contest_id", "name", "subject", "member"],
        set_={"previous_bucket": MEMBERS.c.bucket, "bucket": upsert.excluded.bucket},
        where=MEMBERS.c.bucket != upsert.excluded.bucket,
    ).returning(MEMBERS.c.name, MEMBERS.c.previous_bucket).cte("moved")


def rolled(upsert: Insert) -> Insert:
    """A counter's row moved on to the inserted bucket: the current bucket becomes the one before when the window
    moved on by one, both are dropped when it moved on further; then the inserted row's `current` is added to the
    current bucket and its `previous` (minus the members that moved on) to the one before."""
    same, next_one = COUNTS.c.bucket == upsert.excluded.bucket, COUNTS.c.bucket == upsert.excluded.bucket - 1
    return upsert.on_conflict_do_update(
        index_elements=["contest_id", "name", "subject"],
        set_={"previous": case((same, COUNTS.c.previous), (next_one, COUNTS.c.current), else_=0)
              + upsert.excluded.previous,
              "current": case((same, COUNTS.c.current), else_=0) + upsert.excluded.current,
              "bucket": upsert.excluded.bucket})


def count_and_read() -> Select[Any]:
    adding = _count_rows()
    upsert = insert(COUNTS).from_select(
        ["contest_id", "name", "subject", "bucket", "current", "previous"],
        select(bindparam("fraud_contest", type_=Integer), adding.c.name, adding.c.subject, adding.c.bucket,
               adding.c.adds, adding.c.leaves))
    counted = rolled(upsert).returning(COUNTS.c.name, COUNTS.c.bucket, COUNTS.c.current, COUNTS.c.previous) \
        .cte("counted")
    # One lookup of the whole key each: an OR of them let the planner, on a young table's statistics, read every
    # counter of the contest for each order.
    refused = [select(COUNTS.c.name, COUNTS.c.bucket, COUNTS.c.current, COUNTS.c.previous).where(
        COUNTS.c.contest_id == bindparam("fraud_contest", type_=Integer), COUNTS.c.name == counter.name,
        COUNTS.c.subject == bindparam(f"{counter.name}_subject", type_=Text)) for counter in HISTORY]
    shared = select(literal(SHARED, String), literal(0, BigInteger), literal(1, BigInteger), literal(0, BigInteger)) \
        .where(SharedAddress.address == bindparam("shared_subject", type_=Text))
    return union_all(select(counted.c.name, counted.c.bucket, counted.c.current, counted.c.previous),
                     *refused, shared)  # type: ignore[return-value]


COUNT_AND_READ = count_and_read()


def parameters(facts: OrderFacts, now: datetime) -> dict[str, Any]:
    """The statement's bound parameters for this order at `now` (a subject left None counts nothing)."""
    epoch = int(now.timestamp())
    bound: dict[str, Any] = {"fraud_contest": facts.contest_id, "shared_subject": facts.address,
                             **{f"{counter.name}_subject": counter.subject(facts) for counter in HISTORY}}
    for counter in COUNTERS:
        bound[f"{counter.name}_subject"] = counter.subject(facts)
        bound[f"{counter.name}_bucket"] = epoch // counter.window
        if counter.member is None:
            bound[f"{counter.name}_adds"] = counter.adds(facts)
        else:
            bound[f"{counter.name}_member"] = counter.member(facts)
    return bound


def estimate(window: int, row_bucket: int, current: int, previous: int, now: datetime) -> int:
    """The figure over the sliding window ending now, from a row's two buckets: the current bucket, and the part of
    the one before that the window still covers. A row not touched for a while counts what it still covers."""
    epoch = now.timestamp()
    bucket, covered = int(epoch // window), 1 - (epoch % window) / window
    if row_bucket == bucket:
        value = current + previous * covered
    elif row_bucket == bucket - 1:
        value = current * covered
    else:
        value = 0
    return max(0, round(value))


WINDOWS = {counter.name: counter.window for counter in (*COUNTERS, *HISTORY)}


@dataclass(frozen=True)
class Counted:
    figures: dict[str, int]  # every counter's figure, this order included
    learned_shared: bool  # the address is one the service learned many people share
    # Per counter, at most how many the sliding window holds, this order included: both buckets in full.
    at_most: dict[str, int] = field(default_factory=dict)


def read(rows: Any, now: datetime) -> Counted:
    figures = {counter.name: 0 for counter in (*COUNTERS, *HISTORY)}
    at_most, shared = dict(figures), False
    for name, bucket, current, previous in rows:
        if name == SHARED:
            shared = True
        else:
            figures[name] = estimate(WINDOWS[name], bucket, current, previous, now)
            at_most[name] = current + previous
    return Counted(figures, shared, at_most)


def parameter_names() -> tuple[str, ...]:
    """The names `parameters` binds, whatever the order (those of COUNTING's calls)."""
    names = ["fraud_contest", "shared_subject", *(f"{counter.name}_subject" for counter in HISTORY)]
    for counter in COUNTERS:
        names += [f"{counter.name}_subject", f"{counter.name}_bucket",
                  f"{counter.name}_adds" if counter.member is None else f"{counter.name}_member"]
    return tuple(names)


# Run by asyncpg itself (gateway.db.driver_statements), on the placement's connection, inside its transaction.
COUNTING = DriverStatement(COUNT_AND_READ, parameter_names())


async def count_order(connection: AsyncConnection, facts: OrderFacts, now: datetime) -> Counted:
    """Add the order to its counters and read every figure around it, in one statement; on a connection in AUTOCOMMIT
    mode, inside a `driver_transaction` (the placement's)."""
    return read(await COUNTING.fetch(connection, parameters(facts, now)), now)


ADD_REFUSED = rolled(insert(COUNTS).values(
    contest_id=bindparam("refused_contest", type_=Integer), name=bindparam("refused_name", type_=String),
    subject=bindparam("refused_subject", type_=Text), bucket=bindparam("refused_bucket", type_=BigInteger),
    current=1, previous=0))


async def note_refused(connection: AsyncConnection | AsyncSession, contest_id: int, payer: str | None,
                       voter: str | None, now: datetime) -> None:
    """A person refused an order of this payer (and chat user or browser), or its card was charged back: their
    next orders in the contest carry it (`HISTORY`)."""
    for counter, subject in ((PAYER_REFUSED, payer), (VOTER_REFUSED, voter)):
        if subject:
            await connection.execute(ADD_REFUSED, {
                "refused_contest": contest_id, "refused_name": counter.name, "refused_subject": subject,
                "refused_bucket": int(now.timestamp()) // counter.window})


def voter_of(channel: str, voter_ref: str | None) -> str | None:
    """The voter as the counters name them: a channel's own reference for them is theirs on that channel only."""
    return f"{channel}:{voter_ref}" if voter_ref else None
