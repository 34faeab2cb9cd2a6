"""The fraud rules' figures as counters kept while orders are placed, so that reading them costs the same at the
millionth vote as at the first (counting them over the order table cost a longer scan for every order from a busy
address).

Each subject (a payer number, an address, a chat user) has one row per contest, holding for each of its figures two
fixed buckets of the figure's window, the current one and the one before; the figure over the sliding window is the
current bucket plus the share of the one before that the window still covers (as rate limiters estimate it). A
distinct figure (payer numbers behind one address) counts each member once, in the bucket it was last seen in: a
member seen again moves from its old bucket to the new one, in the same statement, under its row's lock, so
concurrent orders never count a member twice.

The placement runs `COUNT_AND_READ` inside its transaction, after its checks and before its insert: an order that
is refused rolls its counts back with it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
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
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.db.driver_statements import DriverStatement
from gateway.db.models import FraudMember, FraudSubject, SharedAddress
from gateway.db.models.fraud import BUCKET_PARTS as PARTS

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
    """One figure: whose (`kind`: its subject's row), over what window, and what an order adds: a count (`adds`) or
    a distinct member (`member`; an order with none adds nothing)."""

    name: str  # also the figure's name in `gateway.core.fraud.rules`, and its columns' in `fraud_subjects`
    window: int  # seconds
    kind: str  # a key of SUBJECTS: whose row it is kept in
    adds: Callable[[OrderFacts], int] = lambda facts: 1
    member: Callable[[OrderFacts], str | None] | None = None
    # An order it does not apply to neither adds to it nor reads it (its figure is 0), though it counts in the
    # subject's other counters; None: every order of the subject.
    applies: Callable[[OrderFacts], bool] | None = None

    def applies_to(self, facts: OrderFacts) -> bool:
        return self.applies is None or self.applies(facts)


def _payer(facts: OrderFacts) -> str | None:
    return facts.payer


def _address(facts: OrderFacts) -> str | None:
    return facts.address


def _voter(facts: OrderFacts) -> str | None:
    return facts.voter


def _candidate(facts: OrderFacts) -> str | None:
    return None if facts.candidate_id is None else str(facts.candidate_id)


def _has_payer(facts: OrderFacts) -> bool:
    return facts.payer is not None


# Whose figures an order adds to, one row each (a subject the order does not name counts nothing).
SUBJECTS: dict[str, Callable[[OrderFacts], str | None]] = {"payer": _payer, "address": _address, "voter": _voter}
COUNTERS: tuple[Counter, ...] = (
    Counter("payer_orders_10_minutes", 10 * MINUTE, "payer"),
    # Bounds of the contest's hard limits per payer (gateway.core.orders.placing): below them, no count is needed.
    Counter("payer_orders_minute", MINUTE, "payer"),
    Counter("payer_orders_day", DAY, "payer"),
    Counter("payer_votes_day", DAY, "payer", adds=lambda facts: facts.quantity),
    Counter("address_orders_10_minutes", 10 * MINUTE, "address"),
    Counter("address_candidates_hour", HOUR, "address", member=_candidate),
    # The payer numbers behind an address, and behind a chat user or browser: a card or Stars is none of them.
    Counter("address_numbers_day", DAY, "address", member=_payer, applies=_has_payer),
    Counter("voter_orders_10_minutes", 10 * MINUTE, "voter"),
    Counter("voter_numbers", 30 * DAY, "voter", member=_payer, applies=_has_payer),
)
# Read, never added to by a placement: earlier orders of this payer, or of this chat user or browser, that a person
# refused or whose card was charged back (gateway.core.fraud.holds.reject_held, gateway.core.money_in.chargebacks),
# kept in the `history` row of the payer's number or of the voter.
PAYER_REFUSED = Counter("payer_refused", 90 * DAY, "payer", adds=lambda facts: 0)
VOTER_REFUSED = Counter("voter_refused", 90 * DAY, "voter", adds=lambda facts: 0)
HISTORY = (PAYER_REFUSED, VOTER_REFUSED)
HISTORY_KIND = "history"
READ = (*COUNTERS, *HISTORY)  # every figure a placement reads
WINDOWS = {counter.name: counter.window for counter in READ}
SHARED = "shared_address"  # whether the address is one the service learned to be shared
SUBJECTS_TABLE, MEMBERS = FraudSubject.__table__, FraudMember.__table__


def column(counter: str, part: str) -> Any:
    """A counter's column in its subject's row: its `bucket`, `current` or `previous`."""
    return SUBJECTS_TABLE.c[f"{counter}_{part}"]


def _counted(kind: str, moved: Any) -> Any:
    """This order added to its `kind` subject's counters (none when the order names no such subject), with what a
    moved member takes off the bucket before; the counters as they are now."""
    subject = bindparam(f"{kind}_subject", type_=Text)
    values: list[Any] = [bindparam("fraud_contest", type_=Integer), literal(kind, String), subject]
    names = []
    for counter in (counter for counter in COUNTERS if counter.kind == kind):
        bucket = bindparam(f"{counter.name}_bucket", type_=BigInteger)
        adds: Any
        before: Any
        if counter.member is None:
            adds, before = bindparam(f"{counter.name}_adds", type_=BigInteger), literal(0, BigInteger)
        else:
            adds = select(func.count()).where(moved.c.name == counter.name).scalar_subquery()
            before = -select(func.count()).where(moved.c.name == counter.name,
                                                 moved.c.previous_bucket == bucket - 1).scalar_subquery()
        values += [bucket, adds, before]
        names.append(counter.name)
    upsert = insert(SUBJECTS_TABLE).from_select(
        ["contest_id", "kind", "subject", *(f"{name}_{part}" for name in names for part in PARTS)],
        select(*values).where(subject.is_not(None)))
    optional = [counter.name for counter in COUNTERS if counter.kind == kind and counter.applies is not None]
    return rolled(upsert, names, optional).returning(*(column(name, part) for name in names for part in PARTS)) \
        .cte(f"{kind}_counted")


def _members_moved() -> Any:
    """The distinct counters' members upserted into their latest bucket; a row for each that moved (new, or seen
    in an earlier bucket), none for one already counted in this bucket."""
    rows = []
    for counter in COUNTERS:
        if counter.member is None:
            continue
        subject = bindparam(f"{counter.kind}_subject", type_=Text)
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


def rolled(upsert: Insert, names: Iterable[str], optional: Collection[str] = ()) -> Insert:
    """The named counters of a subject's row moved on to the inserted buckets: a current bucket becomes the one
    before when the window moved on by one, both are dropped when it moved on further (or the counter never
    counted); then the inserted `current` is added to the current bucket and `previous` (minus the members that moved
    on) to the one before. An `optional` counter inserted without a bucket (the order does not apply to it), and the
    row's other counters, are left as they are."""
    rolling: dict[str, Any] = {}
    for name in names:
        bucket, current, previous = (column(name, part) for part in PARTS)
        new_bucket, new_current, new_previous = (upsert.excluded[f"{name}_{part}"] for part in PARTS)
        same, next_one = bucket == new_bucket, bucket == new_bucket - 1
        rolling[previous.name] = case((same, previous), (next_one, current), else_=0) + new_previous
        rolling[current.name] = case((same, current), else_=0) + new_current
        rolling[bucket.name] = new_bucket
        if name in optional:
            left = new_bucket.is_(None)
            rolling = {**rolling, **{column.name: case((left, column), else_=rolling[column.name]) for column in
                                     (previous, current)}, bucket.name: func.coalesce(new_bucket, bucket)}
    return upsert.on_conflict_do_update(index_elements=["contest_id", "kind", "subject"], set_=rolling)


def _histories() -> list[Any]:
    """The payer's and the voter's history rows, looked up by their key (never locked: the count and the review
    write them)."""
    rows = []
    for counter in HISTORY:
        history = SUBJECTS_TABLE.alias(f"{counter.kind}_history")
        rows.append(select(*(history.c[f"{counter.name}_{part}"] for part in PARTS)).where(
            history.c.contest_id == bindparam("fraud_contest", type_=Integer), history.c.kind == HISTORY_KIND,
            history.c.subject == bindparam(f"{counter.kind}_subject", type_=Text)).subquery(f"{counter.kind}_history"))
    return rows


def count_and_read() -> Select[Any]:
    """One row: each subject's counters as this order left them and its history (NULL for a subject it does not
    name), and whether its address was learned to be shared."""
    moved = _members_moved()
    read = [*(_counted(kind, moved) for kind in SUBJECTS), *_histories()]
    shared = select(SharedAddress.address).where(SharedAddress.address == bindparam("address_subject", type_=Text))
    joined: Any = select(literal(1).label("one")).subquery("one")
    for part in read:
        joined = joined.outerjoin(part, true())
    return select(*(c for part in read for c in part.c), shared.exists().label(SHARED)).select_from(joined)


COUNT_AND_READ = count_and_read()


def parameters(facts: OrderFacts, now: datetime) -> dict[str, Any]:
    """The statement's bound parameters for this order at `now` (a subject left None counts nothing)."""
    epoch = int(now.timestamp())
    bound: dict[str, Any] = {"fraud_contest": facts.contest_id,
                             **{f"{kind}_subject": subject(facts) for kind, subject in SUBJECTS.items()}}
    for counter in COUNTERS:
        bound[f"{counter.name}_bucket"] = epoch // counter.window if counter.applies_to(facts) else None
        if counter.member is None:
            bound[f"{counter.name}_adds"] = counter.adds(facts)
        else:
            bound[f"{counter.name}_member"] = counter.member(facts)
    return bound


def estimate(window: int, row_bucket: int | None, current: int | None, previous: int | None, now: datetime) -> int:
    """The figure over the sliding window ending now, from a row's two buckets: the current bucket, and the part of
    the one before that the window still covers. A row not touched for a while counts what it still covers; a
    counter that never counted (NULL) counts nothing."""
    epoch = now.timestamp()
    bucket, covered = int(epoch // window), 1 - (epoch % window) / window
    if row_bucket == bucket:
        value = (current or 0) + (previous or 0) * covered
    elif row_bucket == bucket - 1:
        value = (current or 0) * covered
    else:
        value = 0
    return max(0, round(value))


@dataclass(frozen=True)
class Counted:
    figures: dict[str, int]  # every counter's figure, this order included
    learned_shared: bool  # the address is one the service learned many people share
    # Per counter, at most how many the sliding window holds, this order included: both buckets in full.
    at_most: dict[str, int] = field(default_factory=dict)


def read(row: Mapping[str, Any], facts: OrderFacts, now: datetime) -> Counted:
    """The figures from `COUNT_AND_READ`'s row."""
    figures: dict[str, int] = {}
    at_most: dict[str, int] = {}
    for counter in READ:
        bucket, current, previous = (row[f"{counter.name}_{part}"] if counter.applies_to(facts) else None
                                     for part in PARTS)
        figures[counter.name] = estimate(counter.window, bucket, current, previous, now)
        at_most[counter.name] = (current or 0) + (previous or 0)
    return Counted(figures, bool(row[SHARED]), at_most)


def parameter_names() -> tuple[str, ...]:
    """The names `parameters` binds, whatever the order (those of COUNTING's calls)."""
    names = ["fraud_contest", *(f"{kind}_subject" for kind in SUBJECTS)]
    for counter in COUNTERS:
        names += [f"{counter.name}_bucket", f"{counter.name}_adds" if counter.member is None
                  else f"{counter.name}_member"]
    return tuple(names)


# Run by asyncpg itself (gateway.db.driver_statements), on the placement's connection, inside its transaction.
COUNTING = DriverStatement(COUNT_AND_READ, parameter_names())


async def count_order(connection: AsyncConnection, facts: OrderFacts, now: datetime) -> Counted:
    """Add the order to its counters and read every figure around it, in one statement; on a connection in AUTOCOMMIT
    mode, inside a `driver_transaction` (the placement's)."""
    row = await COUNTING.fetchrow(connection, parameters(facts, now))
    assert row is not None  # one row, whatever the order names
    return read(row, facts, now)


def _add_refused(counter: Counter) -> Insert:
    return rolled(insert(SUBJECTS_TABLE).values({
        "contest_id": bindparam("refused_contest", type_=Integer), "kind": HISTORY_KIND,
        "subject": bindparam("refused_subject", type_=Text),
        column(counter.name, "bucket"): bindparam("refused_bucket", type_=BigInteger),
        column(counter.name, "current"): 1, column(counter.name, "previous"): 0}), [counter.name])


ADD_REFUSED = {counter.name: _add_refused(counter) for counter in HISTORY}


async def note_refused(connection: AsyncConnection | AsyncSession, contest_id: int, payer: str | None,
                       voter: str | None, now: datetime) -> None:
    """A person refused an order of this payer (and chat user or browser), or its card was charged back: their
    next orders in the contest carry it (`HISTORY`)."""
    for counter, subject in ((PAYER_REFUSED, payer), (VOTER_REFUSED, voter)):
        if subject:
            await connection.execute(ADD_REFUSED[counter.name], {
                "refused_contest": contest_id, "refused_subject": subject,
                "refused_bucket": int(now.timestamp()) // counter.window})


def voter_of(channel: str, voter_ref: str | None) -> str | None:
    """The voter as the counters name them: a channel's own reference for them is theirs on that channel only."""
    return f"{channel}:{voter_ref}" if voter_ref else None
