"""Free votes: a number's votes that cost nothing, given by its contest per day or per round
(gateway.core.orders.free_votes). Never an order: no provider, no money, no settlement sees them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models.base import Base


class FreeVote(Base):
    """One free vote, taken by a proven number. Its `period` is what its allowance is counted in ("day:2026-11-28",
    the contest's local day; "round:17"), its `slot` which of the period's allowance it took (1..allowance): the
    unique key makes a second claim of one slot fail, so no race gives a number more than its allowance."""

    __tablename__ = "free_votes"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("contest_rounds.id", ondelete="SET NULL"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    msisdn: Mapped[str] = mapped_column(String(20))
    period: Mapped[str] = mapped_column(String(32))
    slot: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))  # the channel that proved the number
    voter_address: Mapped[str | None] = mapped_column(String(64))  # the web's client address
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        CheckConstraint("slot >= 1", name="slot_positive"),
        Index("uq_free_votes_number_slot", "contest_id", "msisdn", "period", "slot", unique=True),
        Index("ix_free_votes_contest_created", "contest_id", "created_at"),
    )


class FreeTally(Base):
    """Free votes per candidate, moved only from the ledger's `free` entry appended in the same statement (as
    `tallies` is for paid votes, which it never touches)."""

    __tablename__ = "free_tallies"

    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), index=True)
    votes: Mapped[int] = mapped_column(BigInteger, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (CheckConstraint("votes >= 0", name="free_votes_not_negative"),)
