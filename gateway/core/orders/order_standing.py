""""My vote counted": what a voter may learn of an order from the reference on its receipt.

Whether it counted (or why not), the ledger entries that hold it and the checkpoint that covers them. Only
this order: no count of anyone's votes, and of the payer only the masked number. Until a sealed contest is
closed its entries carry no sequence number and its checkpoints no count: two of one's own votes would show
how many orders others made in between.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.contests.catalog import mask_msisdn
from gateway.core.contests.ranking import PublicBoard, public_board
from gateway.core.errors import Conflict, DomainError, NotFound
from gateway.core.results import ledger
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import Candidate, Contest, LedgerCheckpoint, LedgerEntry, OrderStatus, VoteOrder

REFERENCE = re.compile(r"^[0-9a-f]{8,32}$")
SHORTEST_REFERENCE = 8  # the receipt's (gateway.core.contests.catalog.VoterOrder.reference)


class Outcome(StrEnum):
    """What became of the order, in the words the page explains."""

    COUNTED = "counted"
    PENDING = "pending"  # the payment is not confirmed yet
    FAILED = "failed"
    EXPIRED = "expired"
    HELD = "held"  # paid, held for review by a person
    FLAGGED = "flagged"  # money moved but not counted: a person looks
    REVERSED = "reversed"  # counted, then taken back off: the provider's status disagreed
    REJECTED = "rejected"  # held, then refused after review; the money is given back
    REFUNDED = "refunded"


@dataclass(frozen=True)
class EntryView:
    seq: int | None  # None while the contest is sealed
    kind: str
    quantity: int
    hash_hex: str
    recorded_at: datetime


@dataclass(frozen=True)
class CheckpointView:
    entries: int | None  # None while the contest is sealed
    head_hex: str
    taken_at: datetime


@dataclass(frozen=True)
class OrderStanding:
    reference: str
    contest_slug: str
    contest_name: str
    candidate_code: str
    candidate_name: str
    quantity: int
    amount: int
    currency: str
    msisdn: str | None  # masked
    outcome: Outcome
    entries: tuple[EntryView, ...]
    checkpoint: CheckpointView | None  # the first that covers the last entry (None: not yet)
    next_checkpoint_at: datetime | None  # when one will, if none does yet and there is an entry
    sealed: bool = False  # sealed until close: no sequence numbers, no checkpoint counts
    time_zone: str = "Africa/Douala"  # the contest's: its times are shown on its clock


def normalise_reference(text: str) -> str:
    """The receipt's reference as typed (any case, spaces, dashes, a full order id); DomainError if unreadable."""
    cleaned = re.sub(r"[\s-]", "", text).lower()
    if not REFERENCE.match(cleaned):
        raise DomainError("Enter the reference on your receipt: 8 letters and digits, such as 1A2B3C4D.",
                          code="invalid_reference", field="reference")
    return cleaned


def id_range(reference: str) -> tuple[uuid.UUID, uuid.UUID]:
    """Every order id that starts with the reference (an index range, not a scan)."""
    return uuid.UUID(reference.ljust(32, "0")), uuid.UUID(reference.ljust(32, "f"))


def outcome_of(status: OrderStatus, kinds: list[str]) -> Outcome:
    if status is OrderStatus.FLAGGED and ledger.EntryKind.REVERSED in kinds:
        return Outcome.REVERSED
    if status in (OrderStatus.REFUND_REQUESTED, OrderStatus.REFUNDED) and ledger.EntryKind.REJECTED in kinds:
        return Outcome.REJECTED
    if status in (OrderStatus.REFUND_REQUESTED, OrderStatus.LATE):  # late: paid after the lines closed, going back
        return Outcome.REFUNDED
    return Outcome(status.value if status is not OrderStatus.PAID else Outcome.COUNTED)


async def order_standing(sessions: Sessions, text: str, now: datetime | None = None) -> OrderStanding:
    """The order the reference names; NotFound if none, Conflict if the short reference fits several."""
    reference = normalise_reference(text)
    low, high = id_range(reference)
    async with autocommit(sessions) as session:
        rows = (await session.execute(
            select(VoteOrder, Contest.slug, Contest.name, Candidate.code, Candidate.name, Contest.show_counts,
                   Contest.board_sealed, Contest.status, Contest.time_zone)
            .join(Contest, Contest.id == VoteOrder.contest_id).join(Candidate, Candidate.id == VoteOrder.candidate_id)
            .where(VoteOrder.id >= low, VoteOrder.id <= high).limit(2))).all()
        if not rows:
            raise NotFound("No vote has that reference. Check it on your receipt.", code="reference_not_found")
        if len(rows) > 1:
            raise Conflict("Several votes share that reference: enter more of it (the link on your receipt has "
                           "all of it).", code="reference_ambiguous")
        order, slug, contest_name, code, name, show_counts, board_sealed, status, zone = rows[0]
        entries = await _entries(session, order.id)
        checkpoint, last_taken = await _checkpoint(session, order.contest_id, entries[-1].seq if entries else None)
    next_at = None
    if entries and checkpoint is None:
        next_at = ledger.next_checkpoint_at(last_taken, now or datetime.now(UTC))
    standing = OrderStanding(
        order.id.hex[:SHORTEST_REFERENCE].upper(), slug, contest_name, code, name, order.quantity, order.amount,
        order.currency, mask_msisdn(order.voter_msisdn), outcome_of(order.status, [e.kind for e in entries]),
        tuple(entries), checkpoint, next_at, time_zone=zone)
    return sealed_view(standing) if public_board(show_counts, board_sealed, status) is PublicBoard.SEALED \
        else standing


def sealed_view(standing: OrderStanding) -> OrderStanding:
    """The standing without what counts others' orders: the entries' places in the chain, the checkpoint's length.
    The hashes stay (they say nothing of the count); the numbers come back once the contest is closed."""
    checkpoint = standing.checkpoint
    return replace(standing, entries=tuple(replace(e, seq=None) for e in standing.entries),
                   checkpoint=None if checkpoint is None else replace(checkpoint, entries=None), sealed=True)


async def _entries(session: AsyncSession, order_id: uuid.UUID) -> list[EntryView]:
    rows = await session.scalars(select(LedgerEntry).where(LedgerEntry.order_id == order_id)
                                 .order_by(LedgerEntry.seq))
    return [EntryView(e.seq, e.kind, e.quantity, bytes(e.hash).hex(), e.recorded_at) for e in rows]


async def _checkpoint(session: AsyncSession, contest_id: int,
                      seq: int | None) -> tuple[CheckpointView | None, datetime | None]:
    """The first checkpoint at or past `seq`, and when the latest one was taken."""
    last_taken = await session.scalar(select(LedgerCheckpoint.taken_at).where(LedgerCheckpoint.contest_id == contest_id)
                                      .order_by(LedgerCheckpoint.taken_at.desc()).limit(1))
    if seq is None:
        return None, last_taken
    found = await session.scalar(select(LedgerCheckpoint).where(LedgerCheckpoint.contest_id == contest_id,
                                                                LedgerCheckpoint.entries >= seq)
                                 .order_by(LedgerCheckpoint.entries, LedgerCheckpoint.id).limit(1))
    view = CheckpointView(found.entries, bytes(found.head_hash).hex(), found.taken_at) if found else None
    return view, last_taken
