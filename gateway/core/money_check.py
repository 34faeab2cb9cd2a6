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
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.settlements import MONEY_IN
from gateway.db.models import (
    AuditEntry,
    OrderStatus,
    Payout,
    PayoutAccountKind,
    PayoutState,
    Refund,
    RefundState,
    VoteOrder,
)

Kind = Literal["payment", "refund", "payout"]
UNDECIDED_ORDERS = (OrderStatus.PENDING,)
DECIDED_REFUNDS = (RefundState.SUCCEEDED, RefundState.FAILED)
DECIDED_PAYOUTS = (PayoutState.SUCCEEDED, PayoutState.FAILED)


@dataclass(frozen=True)
class BookEntry:
    kind: Kind
    key: uuid.UUID  # the order, refund or payout
    moved: bool  # our books say the money moved
    amount: int
    currency: str


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
        books = f"{self.entry.amount} {self.entry.currency} {'moved' if self.entry.moved else 'not moved'}"
        said = (f"{self.word.status or 'unknown'} {self.word.amount} {self.word.currency}" if self.word.found
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
    """The latest differences found (gateway.jobs.money_reconciliation keeps each in the audit log once): when,
    the provider and day, and what."""
    rows = await session.execute(select(AuditEntry.created_at, AuditEntry.target, AuditEntry.details["line"].astext)
                                 .where(AuditEntry.action == "money.difference")
                                 .order_by(AuditEntry.id.desc()).limit(last))
    return [(at, target or "", line or "") for at, target, line in rows]


async def books_of_day(session: AsyncSession, provider: str, day: date) -> list[BookEntry]:
    """What the books say of each payment, refund and payout of `provider` made on `day` (UTC) and decided."""
    start, end = day_bounds(day)
    orders = await session.execute(select(VoteOrder.id, VoteOrder.status, VoteOrder.amount, VoteOrder.currency).where(
        VoteOrder.provider == provider, VoteOrder.created_at >= start, VoteOrder.created_at < end,
        VoteOrder.status.not_in(UNDECIDED_ORDERS)))
    entries = [BookEntry("payment", order_id, status in MONEY_IN, amount, currency)
               for order_id, status, amount, currency in orders]
    refunds = await session.execute(select(Refund.id, Refund.state, Refund.amount, Refund.currency).where(
        Refund.provider == provider, Refund.created_at >= start, Refund.created_at < end,
        Refund.state.in_(DECIDED_REFUNDS)))
    entries += [BookEntry("refund", key, state is RefundState.SUCCEEDED, amount, currency)
                for key, state, amount, currency in refunds]
    if provider not in {kind.value for kind in PayoutAccountKind}:
        return entries
    payouts = await session.execute(select(Payout.id, Payout.state, Payout.amount, Payout.currency).where(
        Payout.kind == PayoutAccountKind(provider), Payout.created_at >= start, Payout.created_at < end,
        Payout.msisdn.is_not(None), Payout.state.in_(DECIDED_PAYOUTS), Payout.proof.is_(None)))  # sent by API
    entries += [BookEntry("payout", key, state is PayoutState.SUCCEEDED, amount, currency)
                for key, state, amount, currency in payouts]
    return entries
