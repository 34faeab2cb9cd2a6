"""The books against a provider's own word, per day: every payment, refund and payout of ours that the provider
decided, and what it says of each. A difference is for a person:

- `missing_in_books`: the provider moved the money, our books say it did not (a success after we gave up);
- `missing_at_provider`: our books say the money moved, the provider says it did not, or never heard of it;
- `amount`: both say it moved, not the same amount or currency (where the provider says how much).

What is still under way on either side (a pending order, a refund or payout sent and not decided) is no
difference yet: the reconciler and the refunds and payouts passes follow those. MTN lists no transactions, so its
word is read one reference at a time (every reference we ever gave it is in the books, paid or not): a payment we
never asked for cannot reach our account. The comparison is pure; `books_of_day` reads the books.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from gateway.core.money import money_text
from gateway.core.money_out.settlements import MONEY_IN
from gateway.db.models import (
    AuditEntry,
    OrderStatus,
    Payout,
    PayoutState,
    Refund,
    RefundState,
    VoteOrder,
)

Kind = Literal["payment", "refund", "payout"]
UNDECIDED_ORDERS = (OrderStatus.PENDING,)
DECIDED_REFUNDS = (RefundState.SUCCEEDED, RefundState.FAILED)
DECIDED_PAYOUTS = (PayoutState.SUCCEEDED, PayoutState.FAILED)


KINDS: tuple[Kind, ...] = ("payment", "refund", "payout")  # the order a day is read in


@dataclass(frozen=True)
class BookEntry:
    kind: Kind
    key: uuid.UUID  # the order, refund or payout
    moved: bool  # our books say the money moved
    amount: int
    currency: str
    at: datetime | None = None  # when it was made: with `kind` and `key`, its place in the day (`Position`)

    def position(self) -> Position:
        assert self.at is not None, "an entry read from the books"
        return Position(self.kind, self.at, self.key)


@dataclass(frozen=True)
class Position:
    """Where a read of the day stopped: just after this entry (payments, then refunds, then payouts, each in the
    order they were made)."""

    kind: Kind
    at: datetime
    key: uuid.UUID


@dataclass(frozen=True)
class ProviderWord:
    found: bool  # the provider knows the reference
    moved: bool  # and says the money moved (successful)
    amount: int | None = None
    currency: str | None = None
    status: str = ""


@dataclass(frozen=True)
class Difference:
    what: Literal["missing_in_books", "missing_at_provider", "amount"]
    entry: BookEntry
    word: ProviderWord

    def line(self) -> str:
        books = f"{money_text(self.entry.amount, self.entry.currency)} {'moved' if self.entry.moved else 'not moved'}"
        said = (f"{self.word.status or 'unknown'} {money_text(self.word.amount, self.word.currency)}" if self.word.found
                else "never heard of it")
        return f"{self.what}: {self.entry.kind} {self.entry.key}: books {books}; provider {said}"


def difference(entry: BookEntry, word: ProviderWord) -> Difference | None:
    if word.moved and not entry.moved:
        return Difference("missing_in_books", entry, word)
    if entry.moved and not word.moved:
        return Difference("missing_at_provider", entry, word)
    if entry.moved and word.amount is not None and (word.amount != entry.amount
                                                     or (word.currency or "").upper() != entry.currency):
        return Difference("amount", entry, word)
    return None


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


async def recent_differences(session: AsyncSession, last: int = 10) -> list[tuple[datetime, str, str]]:
    """The latest differences found (money_reconciliation keeps each in the audit log once): when, the provider and
    day, and what."""
    rows = await session.execute(select(AuditEntry.created_at, AuditEntry.target, AuditEntry.details["line"].astext)
                                 .where(AuditEntry.action == "money.difference")
                                 .order_by(AuditEntry.id.desc()).limit(last))
    return [(at, target or "", line or "") for at, target, line in rows]


async def books_of_day(session: AsyncSession, provider: str, day: date, after: Position | None = None,
                       limit: int | None = None) -> list[BookEntry]:
    """What the books say of each payment, refund and payout of `provider` made on `day` (UTC) and decided: all of
    them, or the next `limit` after `after`."""
    start, end = day_bounds(day)
    entries: list[BookEntry] = []
    for kind in KINDS:
        if after is not None and KINDS.index(kind) < KINDS.index(after.kind):
            continue
        wanted = None if limit is None else limit - len(entries)
        if wanted == 0:
            break
        entries += await _entries(session, kind, provider, start, end,
                                  after if after is not None and after.kind == kind else None, wanted)
    return entries


async def _entries(session: AsyncSession, kind: Kind, provider: str, start: datetime, end: datetime,
                   after: Position | None, limit: int | None) -> list[BookEntry]:
    table: type[VoteOrder] | type[Refund] | type[Payout]
    moved_when: tuple[StrEnum, ...]  # the states in which the money moved
    # The day a payment is in is the day it was made (its answer comes within minutes); a refund's or a payout's, the
    # day it was decided: a payout asked one day may be approved and sent the next, after that day was checked.
    when: InstrumentedAttribute[Any]
    if kind == "payment":
        table, moved_when, when = VoteOrder, MONEY_IN, VoteOrder.created_at
        chosen = [VoteOrder.provider == provider, VoteOrder.status.not_in(UNDECIDED_ORDERS)]
        query = select(VoteOrder.id, VoteOrder.status, VoteOrder.amount, VoteOrder.currency, when)
    elif kind == "refund":
        table, moved_when, when = Refund, (RefundState.SUCCEEDED,), Refund.decided_at
        chosen = [Refund.provider == provider, Refund.state.in_(DECIDED_REFUNDS)]
        query = select(Refund.id, Refund.state, Refund.amount, Refund.currency, when)
    else:
        table, moved_when, when = Payout, (PayoutState.SUCCEEDED,), Payout.decided_at
        chosen = [Payout.kind == provider, Payout.msisdn.is_not(None),
                  Payout.state.in_(DECIDED_PAYOUTS), Payout.proof.is_(None)]  # sent by API
        query = select(Payout.id, Payout.state, Payout.amount, Payout.currency, when)
    query = query.where(when >= start, when < end, *chosen)
    if after is not None:
        query = query.where(tuple_(when, table.id) > tuple_(literal(after.at), literal(after.key)))
    rows = await session.execute(query.order_by(when, table.id).limit(limit))
    return [BookEntry(kind, key, state in moved_when, amount, currency, at)
            for key, state, amount, currency, at in rows]
