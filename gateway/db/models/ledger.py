"""The vote ledger: every counting event appended to a hash chain per contest (gateway.core.results.ledger), its
checkpoints and the signed results sheets."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models.base import Base


# The vote ledger: every counting event appended to a hash chain per contest (gateway.core.results.ledger).
class LedgerHead(Base):
    """A contest's chain head: its last hash and entry count. Appending upserts this row (the lock that
    serialises a contest's appends), keeping the previous hash and the event's bytes for the entry row."""

    __tablename__ = "ledger_heads"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True)
    entries: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary)
    last_event: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class LedgerEntry(Base):
    """One counting event: `hash` = SHA-256(`prev_hash` ‖ the event's canonical bytes)."""

    __tablename__ = "ledger_entries"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    candidate_id: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)  # signed: a reversal takes votes off
    amount: Mapped[int] = mapped_column(BigInteger)  # signed as the quantity, minor units of `currency`
    currency: Mapped[str] = mapped_column(String(3))
    provider_txn_id: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[datetime]
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_ledger_entries_order", "order_id"),)


class LedgerCheckpoint(Base):
    """The chain's head and entry count at a moment (hourly, at close), shown on the contest's public page."""

    __tablename__ = "ledger_checkpoints"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    entries: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(String(16))  # hourly | close
    taken_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (Index("ix_ledger_checkpoints_contest", "contest_id", "taken_at"),)


class ResultsSheet(Base):
    """A signed results sheet: the CSV's exact bytes and its detached Ed25519 signature."""

    __tablename__ = "results_sheets"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(16))  # close | after_close | on_demand | round
    # A round's own sheet (its board's figures, reason "round"); None: the contest's.
    round_id: Mapped[int | None] = mapped_column(ForeignKey("contest_rounds.id", ondelete="CASCADE"))
    sheet: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # raw 32 bytes
    entries: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary)
    signed_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (Index("ix_results_sheets_contest", "contest_id", "created_at"),)
