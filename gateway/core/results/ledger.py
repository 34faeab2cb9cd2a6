"""The vote ledger: every counting event appended to a per-contest hash chain, in the transaction that moves
the tally.

An append is part of the statement that changes the tally, never a statement of its own on the hot path:
the counting statement (gateway.core.orders.counting) and a held order's release (gateway.core.fraud.holds) gain
two CTEs, the other events (reversals, refunds, a person's decisions) run `append_event` in their transaction. The
tally's change is made *from* the entry that was appended, so neither exists without the other.

Appends are serialised per contest by the upsert of its `ledger_heads` row (a row lock held to the
commit). Every statement takes its locks in one order — the order row, the contest's head, the tally —
so no two of them wait on each other in a circle.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import (
    CTE,
    BigInteger,
    ColumnElement,
    Integer,
    LargeBinary,
    String,
    Text,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.core.results.ledger_chain import (
    FREE_KIND,
    GENESIS,
    Break,
    LedgerEvent,
    Recount,
    StoredEntry,
    signature_holds,
    take,
)
from gateway.db.engine import Sessions
from gateway.db.models import Contest, FreeTally, LedgerCheckpoint, LedgerEntry, LedgerHead, ResultsSheet, Tally

ENTRIES, HEADS = LedgerEntry.__table__, LedgerHead.__table__
CHECKPOINT_EVERY = timedelta(hours=1)
SQL_TIME_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'  # ledger_chain.TIME_FORMAT, as PostgreSQL writes it


class EntryKind(StrEnum):
    COUNTED = "counted"  # a confirmed payment counted
    RELEASED = "released"  # a held order counted by a person (review queue)
    REVIEW_COUNTED = "review_counted"  # a flagged order counted by a person (review queue)
    REJECTED = "rejected"  # a held order refused by a person: recorded, nothing counted (quantity 0)
    REVERSED = "reversed"  # the provider's status disagreed with the callback we counted
    WITHHELD = "withheld"  # a counted order held after the fact, with a later order of its payer (held_together)
    REFUNDED = "refunded"  # a counted order refunded (or its refund requested): its votes leave
    OPENING = "opening"  # orders paid before the ledger existed (migration 0011)
    FREE = FREE_KIND  # a free vote taken (gateway.core.orders.free_votes): counted apart, amount 0, no order


def _field(value: ColumnElement[Any]) -> ColumnElement[str]:
    """ledger_chain.field_bytes in SQL: `<octets>:<text>`, or `-` for NULL."""
    text = cast(value, Text)
    encoded: ColumnElement[str] = func.coalesce(cast(func.octet_length(text), Text) + literal(":") + text,
                                                literal("-"))
    return encoded


def event_bytes_sql(event: CTE) -> ColumnElement[bytes]:
    """ledger_chain.event_bytes, computed by PostgreSQL at the moment of the append."""
    c = event.c
    at = func.to_char(func.timezone("UTC", func.now()), literal(SQL_TIME_FORMAT))
    fields = [_field(column) for column in (c.kind, c.order_id, c.candidate_id, c.quantity, c.amount,
                                            c.currency, c.provider_txn_id, at)]
    joined = fields[0]
    for part in fields[1:]:
        joined = joined + part
    encoded: ColumnElement[bytes] = func.convert_to(joined, literal("UTF8"), type_=LargeBinary)
    return encoded


def _sha256(value: ColumnElement[bytes]) -> ColumnElement[bytes]:
    digest: ColumnElement[bytes] = func.sha256(value, type_=LargeBinary)
    return digest


def append_ctes(event: CTE) -> CTE:
    """The head's upsert and the entry's insert for the event rows of `event` (columns: contest_id, kind,
    order_id, candidate_id, quantity, amount, currency, provider_txn_id); returns the entry CTE."""
    encoded, genesis = event_bytes_sql(event), literal(GENESIS, LargeBinary)
    new_head = pg_insert(HEADS).from_select(
        ["contest_id", "entries", "head_hash", "prev_hash", "last_event"],
        select(event.c.contest_id, literal(1, BigInteger), _sha256(genesis.op("||")(encoded)), genesis, encoded))
    head = new_head.on_conflict_do_update(index_elements=[HEADS.c.contest_id], set_={
        "entries": HEADS.c.entries + 1, "prev_hash": HEADS.c.head_hash,
        "head_hash": _sha256(HEADS.c.head_hash.op("||")(new_head.excluded.last_event)),
        "last_event": new_head.excluded.last_event, "updated_at": func.now(),
    }).returning(HEADS.c.contest_id, HEADS.c.entries, HEADS.c.prev_hash, HEADS.c.head_hash).cte("ledger_head")
    columns = ["contest_id", "seq", "kind", "order_id", "candidate_id", "quantity", "amount", "currency",
               "provider_txn_id", "recorded_at", "prev_hash", "hash"]
    entry = insert(ENTRIES).from_select(columns, select(
        head.c.contest_id, head.c.entries, event.c.kind, event.c.order_id, event.c.candidate_id, event.c.quantity,
        event.c.amount, event.c.currency, event.c.provider_txn_id, func.now(), head.c.prev_hash, head.c.head_hash,
    ).select_from(head.join(event, event.c.contest_id == head.c.contest_id)))
    return entry.returning(ENTRIES.c.contest_id, ENTRIES.c.candidate_id, ENTRIES.c.quantity,
                           ENTRIES.c.seq).cte("ledger_entry")


def tally_added_from(entry: CTE) -> CTE:
    """The tally moves by the entry's (positive) quantity: the candidate's row is made if missing."""
    tally = pg_insert(Tally).from_select(["candidate_id", "contest_id", "votes"],
                                         select(entry.c.candidate_id, entry.c.contest_id, entry.c.quantity))
    return tally.on_conflict_do_update(index_elements=[Tally.candidate_id], set_={
        "votes": Tally.votes + tally.excluded.votes, "updated_at": func.now()}).cte("counted")


def free_tally_added_from(entry: CTE) -> CTE:
    """The free tally moves by a `free` entry's quantity (the paid tally never does)."""
    free = FreeTally.__table__
    tally = pg_insert(free).from_select(["candidate_id", "contest_id", "votes"],
                                        select(entry.c.candidate_id, entry.c.contest_id, entry.c.quantity))
    return tally.on_conflict_do_update(index_elements=[free.c.candidate_id], set_={
        "votes": free.c.votes + tally.excluded.votes, "updated_at": func.now()}).cte("free_counted")


def tally_taken_from(entry: CTE) -> CTE:
    """The tally moves by the entry's (negative) quantity: a counted order's candidate has its row."""
    return (update(Tally).where(Tally.candidate_id == entry.c.candidate_id)
            .values(votes=Tally.votes + entry.c.quantity, updated_at=func.now()).cte("counted"))


class Counted(Protocol):
    """What an event is made of: an order's row (a `VoteOrder`, or a Core row with these names)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def contest_id(self) -> int: ...
    @property
    def candidate_id(self) -> int | None: ...  # a vote order's is set (an entry's fee is on no ledger)
    @property
    def quantity(self) -> int: ...
    @property
    def amount(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def provider_txn_id(self) -> str | None: ...


def _bound_event() -> CTE:
    return select(
        bindparam("ev_contest", type_=Integer).label("contest_id"), bindparam("ev_kind", type_=String).label("kind"),
        bindparam("ev_order", type_=PG_UUID(as_uuid=True)).label("order_id"),
        bindparam("ev_candidate", type_=Integer).label("candidate_id"),
        bindparam("ev_quantity", type_=Integer).label("quantity"),
        bindparam("ev_amount", type_=BigInteger).label("amount"),
        bindparam("ev_currency", type_=String).label("currency"),
        bindparam("ev_txn", type_=String).label("provider_txn_id")).cte("ledger_event")


def _append_statement(tally: str) -> Any:
    event = _bound_event()
    entry = append_ctes(event)
    ctes = [entry]
    if tally == "add":
        ctes.append(tally_added_from(entry))
    elif tally == "take":
        ctes.append(tally_taken_from(entry))
    return select(entry.c.seq).add_cte(*ctes)


APPEND = {"add": _append_statement("add"), "take": _append_statement("take"), "none": _append_statement("none")}


async def append_event(session: AsyncSession | AsyncConnection, kind: EntryKind, order: Counted, *,
                       sign: int) -> int:
    """Append one event for `order` and move the tally with it (sign +1: its votes count, -1: they leave,
    0: a decision that moves nothing); one statement, in the caller's transaction. Returns the entry's seq."""
    tally = {1: "add", -1: "take", 0: "none"}[sign]
    result = await session.execute(APPEND[tally], {
        "ev_contest": order.contest_id, "ev_kind": kind.value, "ev_order": order.id,
        "ev_candidate": order.candidate_id, "ev_quantity": sign * order.quantity, "ev_amount": sign * order.amount,
        "ev_currency": order.currency, "ev_txn": order.provider_txn_id})
    seq: int = result.scalar_one()
    return seq


# ---- Reading and verifying ------------------------------------------------------------------------------------

def stored_entry(row: Any) -> StoredEntry:
    return StoredEntry(row.seq, LedgerEvent(row.kind, row.order_id, row.candidate_id, row.quantity, row.amount,
                                            row.currency, row.provider_txn_id, row.recorded_at),
                       bytes(row.prev_hash), bytes(row.hash))


async def entries_of(session: AsyncSession, contest_id: int) -> AsyncIterator[StoredEntry]:
    """A contest's entries in `seq` order, streamed (a show's ledger may hold millions)."""
    result = await session.stream(select(ENTRIES).where(ENTRIES.c.contest_id == contest_id)
                                  .order_by(ENTRIES.c.seq).execution_options(yield_per=5000))
    async for row in result:
        yield stored_entry(row)


@dataclass(frozen=True)
class Checkpoint:
    entries: int
    head_hash: bytes
    reason: str
    taken_at: datetime


@dataclass(frozen=True)
class LedgerReport:
    """`gateway ledger verify`'s finding for one contest."""

    contest_slug: str
    entries: int
    head: bytes
    broken: Break | None
    problems: tuple[str, ...]  # head row, checkpoints and tallies that disagree with the chain
    votes: dict[int, int]
    amounts: dict[tuple[int, str], int]  # per candidate and currency
    free: dict[int, int] = field(default_factory=dict)  # free votes per candidate, apart from `votes`

    @property
    def clean(self) -> bool:
        return self.broken is None and not self.problems


async def verify(sessions: Sessions, contest_id: int) -> LedgerReport:
    """Recompute the contest's chain and tallies, and compare them with its head, checkpoints and tallies table."""
    async with sessions.begin() as session:
        # One snapshot for the chain, the head, the checkpoints and the tallies: votes may go on being counted.
        await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        slug = await session.scalar(select(Contest.slug).where(Contest.id == contest_id))
        checkpoints = await checkpoints_of(session, contest_id)
        sheets = (await session.execute(select(ResultsSheet).where(ResultsSheet.contest_id == contest_id)
                                        .order_by(ResultsSheet.id))).scalars().all()
        recount = Recount()
        wanted = frozenset(checkpoint.entries for checkpoint in checkpoints) | {sheet.entries for sheet in sheets}
        async for entry in entries_of(session, contest_id):
            if not take(recount, entry, wanted):
                break
        head = (await session.execute(select(HEADS.c.entries, HEADS.c.head_hash)
                                      .where(HEADS.c.contest_id == contest_id))).one_or_none()
        rows = await session.execute(select(Tally.candidate_id, Tally.votes).where(Tally.contest_id == contest_id))
        tallies = {candidate: votes for candidate, votes in rows}
        off_ledger = (await session.execute(ORDERS_OFF_LEDGER, {"contest": contest_id})).all()
        free = (await session.execute(FREE_COUNTS, {"contest": contest_id})).all()
    problems = [] if recount.broken else [*chain_problems(recount, head, checkpoints, tallies),
                                          *sheet_problems(recount, sheets), *order_problems(off_ledger),
                                          *free_problems(recount, free)]
    return LedgerReport(slug or str(contest_id), recount.entries, recount.head, recount.broken, tuple(problems),
                        recount.votes, recount.amounts, recount.free)


def chain_problems(recount: Recount, head: Any, checkpoints: list[Checkpoint],
                   tallies: dict[int, int]) -> list[str]:
    """What disagrees with a chain that is whole: a missing last entry shows here, as do changed tallies."""
    problems = []
    head_entries, head_hash = (head.entries, bytes(head.head_hash)) if head else (0, GENESIS)
    if (head_entries, head_hash) != (recount.entries, recount.head):
        problems.append(f"the head says {head_entries} entries ending {head_hash.hex()[:16]}…, the chain has "
                        f"{recount.entries} ending {recount.head.hex()[:16]}… (entries after "
                        f"{recount.entries} are missing)")
    for checkpoint in checkpoints:
        if checkpoint.entries and recount.heads_at.get(checkpoint.entries) != checkpoint.head_hash:
            problems.append(f"the checkpoint of {checkpoint.taken_at:%Y-%m-%d %H:%M} UTC at entry "
                            f"{checkpoint.entries} does not match the chain")
    for candidate in sorted(set(tallies) | set(recount.votes)):
        ledger, table = recount.votes.get(candidate, 0), tallies.get(candidate, 0)
        if ledger != table:
            problems.append(f"candidate {candidate}: the ledger counts {ledger} votes, the tallies table {table}")
    return problems


def sheet_problems(recount: Recount, sheets: Sequence[ResultsSheet]) -> list[str]:
    """A kept results sheet whose head is not the chain's at its entry, or whose signature does not hold over it."""
    problems = []
    for sheet in sheets:
        name = f"the results sheet signed at {sheet.created_at:%Y-%m-%d %H:%M} UTC ({sheet.reason})"
        if recount.heads_at.get(sheet.entries, GENESIS if sheet.entries == 0 else None) != bytes(sheet.head_hash):
            problems.append(f"{name} at entry {sheet.entries} does not match the chain")
        public = Ed25519PublicKey.from_public_bytes(bytes(sheet.public_key))
        if not signature_holds(public, bytes(sheet.sheet), bytes(sheet.signature)):
            problems.append(f"{name}: its signature does not hold over it (the sheet or its signature was changed)")
    return problems


# Every order's votes on the ledger: its quantity while paid, none otherwise (held, flagged, refunded, ...).
ORDERS_OFF_LEDGER = text("""
    SELECT o.id, o.status::text AS status, o.quantity, coalesce(e.net, 0) AS net, count(*) OVER () AS total
    FROM vote_orders o
    LEFT JOIN (SELECT order_id, sum(quantity) AS net FROM ledger_entries WHERE contest_id = :contest
               GROUP BY order_id) e ON e.order_id = o.id
    WHERE o.contest_id = :contest AND o.candidate_id IS NOT NULL  -- an entry's fee is on no vote ledger
      AND coalesce(e.net, 0) <> CASE WHEN o.status = 'paid' THEN o.quantity ELSE 0 END
    ORDER BY o.created_at LIMIT 3""")


def order_problems(rows: Sequence[Any]) -> list[str]:
    """Orders whose state and ledger disagree (an order marked paid by hand, a vote counted twice)."""
    if not rows:
        return []
    shown = "; ".join(f"{row.id} is {row.status} with {row.quantity} votes, the ledger counts {row.net}"
                      for row in rows)
    return [f"{rows[0].total} orders disagree with the ledger: {shown}"]


# Each candidate's free votes as the free tallies hold them and as the free votes' rows count them (both must be the
# ledger's `free` entries: a row or a tally changed by hand shows here).
FREE_COUNTS = text("""
    SELECT c.candidate_id, coalesce(t.votes, 0) AS tally, coalesce(v.taken, 0) AS taken
    FROM (SELECT candidate_id FROM free_tallies WHERE contest_id = :contest
          UNION SELECT candidate_id FROM free_votes WHERE contest_id = :contest) c
    LEFT JOIN free_tallies t ON t.candidate_id = c.candidate_id
    LEFT JOIN (SELECT candidate_id, count(*) AS taken FROM free_votes WHERE contest_id = :contest
               GROUP BY candidate_id) v ON v.candidate_id = c.candidate_id""")


def free_problems(recount: Recount, rows: Sequence[Any]) -> list[str]:
    """Free votes whose tally or rows disagree with the ledger's `free` entries (the paid votes are checked apart)."""
    problems = []
    found = {row.candidate_id: (int(row.tally), int(row.taken)) for row in rows}
    for candidate in sorted(set(found) | set(recount.free)):
        ledger, (tally, taken) = recount.free.get(candidate, 0), found.get(candidate, (0, 0))
        if ledger != tally or ledger != taken:
            problems.append(f"candidate {candidate}: the ledger counts {ledger} free votes, the free tallies {tally}, "
                            f"the free votes taken {taken}")
    return problems


# ---- Checkpoints ----------------------------------------------------------------------------------------------

async def checkpoints_of(session: AsyncSession, contest_id: int) -> list[Checkpoint]:
    rows = await session.execute(select(LedgerCheckpoint).where(LedgerCheckpoint.contest_id == contest_id)
                                 .order_by(LedgerCheckpoint.taken_at, LedgerCheckpoint.id))
    return [Checkpoint(c.entries, bytes(c.head_hash), c.reason, c.taken_at) for c in rows.scalars()]


async def latest_checkpoints(session: AsyncSession, contest_id: int, n: int) -> list[Checkpoint]:
    """The contest's `n` latest checkpoints, newest first (its public page shows them)."""
    rows = await session.scalars(select(LedgerCheckpoint).where(LedgerCheckpoint.contest_id == contest_id)
                                 .order_by(LedgerCheckpoint.taken_at.desc(), LedgerCheckpoint.id.desc()).limit(n))
    return [Checkpoint(c.entries, bytes(c.head_hash), c.reason, c.taken_at) for c in rows]


async def take_checkpoint(session: AsyncSession, contest_id: int, reason: str) -> Checkpoint:
    """The head as it stands (the head's row is read under a share lock: no append is half seen)."""
    head = (await session.execute(select(HEADS.c.entries, HEADS.c.head_hash).where(HEADS.c.contest_id == contest_id)
                                  .with_for_update(read=True))).one_or_none()
    entries, head_hash = (head.entries, bytes(head.head_hash)) if head else (0, GENESIS)
    row = LedgerCheckpoint(contest_id=contest_id, entries=entries, head_hash=head_hash, reason=reason)
    session.add(row)
    await session.flush()
    await session.refresh(row, ["taken_at"])
    return Checkpoint(entries, head_hash, reason, row.taken_at)


def hourly_due(last_at: datetime | None, last_entries: int | None, head_entries: int | None, now: datetime) -> bool:
    """An hourly checkpoint is due when the chain grew since the last one and that one is an hour old."""
    if not head_entries:
        return False
    if last_at is None or last_entries is None:
        return True
    return head_entries > last_entries and now - last_at >= CHECKPOINT_EVERY


def next_checkpoint_at(last: datetime | None, now: datetime) -> datetime:
    """When a voter may expect the next checkpoint (the periodic job looks every few minutes)."""
    return max(now, (last or now) + CHECKPOINT_EVERY)
