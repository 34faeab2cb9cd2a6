"""Contests, their candidates and their tallies."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.db.models.base import Base, enum_column


class ContestStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"


class CandidateStatus(StrEnum):
    ACTIVE = "active"
    ELIMINATED = "eliminated"
    HIDDEN = "hidden"


class Contest(Base):
    __tablename__ = "contests"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[ContestStatus] = mapped_column(enum_column(ContestStatus, "contest_status"))
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    price_per_vote: Mapped[int] = mapped_column(BigInteger)  # minor units of `currency`
    currency: Mapped[str] = mapped_column(String(3))
    # Its audience's country (ISO 3166-1 alpha-2: how a number typed without its code is read) and time zone (IANA:
    # how its times are shown and typed); gateway.core.market.
    country: Mapped[str] = mapped_column(String(2), server_default="CM")
    time_zone: Mapped[str] = mapped_column(String(64), server_default="Africa/Douala")
    max_votes_per_order: Mapped[int] = mapped_column(Integer)
    providers: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")
    default_language: Mapped[str] = mapped_column(String(2), server_default="fr")
    # Abuse limits per payer number (all channels); 0 means no limit.
    max_orders_per_minute: Mapped[int] = mapped_column(Integer, server_default="5")
    max_orders_per_day: Mapped[int] = mapped_column(Integer, server_default="200")
    # Public board: counts can be hidden (ranks only), and the board frozen from a moment on.
    show_counts: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # Thresholds of the fraud rules (gateway.core.fraud.rules.FraudRules; a missing key takes its default, 0 turns
    # a rule off). None: every default.
    fraud_rules: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    board_frozen_at: Mapped[datetime | None]
    # Sealed until close: no count, no rank anywhere public until the contest is closed (gateway.core.contests.ranking).
    board_sealed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # The result's formula: this share (%) of the public's share of votes, the rest of the jury's share of points
    # (100: the public alone; gateway.core.results.blend). Set before the contest opens.
    public_weight_pct: Mapped[int] = mapped_column(Integer, server_default="100")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # The price of a vote in Stars (None: not sold for Stars). A channel's own settings of a contest live in
    # its own table (gateway.core.channel_settings).
    stars_per_vote: Mapped[int | None] = mapped_column(Integer)
    # The platform's commission on what the contest took (net of refunds), in basis points (500: 5%).
    commission_bp: Mapped[int] = mapped_column(Integer, server_default="0")
    # Bundles: [{"votes": n, "amount": minor units}], sorted by votes ([]: every vote at price_per_vote); a list in
    # one column, so a round's terms copy it as one value (gateway.core.contests.price_tiers).
    price_tiers: Mapped[list[dict[str, int]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    # Its round whose terms it holds now (gateway.core.contests.rounds): new orders belong to it. None: no rounds.
    current_round_id: Mapped[int | None] = mapped_column(
        ForeignKey("contest_rounds.id", use_alter=True, name="fk_contests_current_round_id_contest_rounds"))
    # The published late-vote rule (gateway.core.contests.late_votes): an order placed before the close counts if paid
    # within this many seconds after it; a later payment is refunded by itself. 300: MTN's and M-Pesa's prompts stay
    # open about five minutes.
    late_grace_seconds: Mapped[int] = mapped_column(Integer, server_default="300")

    # Free votes (gateway.core.orders.free_votes): how many a proven number may take per `free_votes_per` ("day": the
    # contest's local day; "round": its open round), 0: none; and how they count: "counted" (one more on the board
    # each) or "apart" (shown beside the paid count, never added to it).
    free_votes_per_day: Mapped[int] = mapped_column(Integer, server_default="0")
    free_votes_per: Mapped[str] = mapped_column(String(8), server_default="day")
    free_vote_weight: Mapped[str] = mapped_column(String(8), server_default="apart")

    candidates: Mapped[list[Candidate]] = relationship(
        back_populates="contest", order_by="Candidate.code", lazy="raise"
    )

    __table_args__ = (
        CheckConstraint("price_per_vote > 0", name="price_positive"),
        CheckConstraint("max_votes_per_order >= 1", name="max_votes_positive"),
        CheckConstraint("closes_at > opens_at", name="closes_after_opens"),
        CheckConstraint("commission_bp BETWEEN 0 AND 10000", name="commission_within_whole"),
        CheckConstraint("country ~ '^[A-Z]{2}$'", name="country_code"),
        CheckConstraint("free_votes_per_day >= 0", name="free_votes_not_negative"),
        CheckConstraint("free_votes_per IN ('day', 'round')", name="free_votes_per_known"),
        CheckConstraint("free_vote_weight IN ('counted', 'apart')", name="free_vote_weight_known"),
        CheckConstraint("public_weight_pct BETWEEN 0 AND 100", name="public_weight_within_whole"),
    )


class Candidate(Base):
    __tablename__ = "candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[CandidateStatus] = mapped_column(
        enum_column(CandidateStatus, "candidate_status"), server_default=CandidateStatus.ACTIVE.value
    )
    photo_url: Mapped[str | None] = mapped_column(Text)
    bio: Mapped[str | None] = mapped_column(Text)
    # The organiser's display order in the public lists (ties: code order).
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    # Its clip (a processed media_uploads row): from its approved entry, or set by an organiser.
    clip_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("media_uploads.id", ondelete="SET NULL"), index=True)
    # The photo upload behind photo_url (its approved entry's, or one an organiser sent), None for a photo an
    # organiser sent before photos went through the storage (admin.photos): viewers may fetch it only while the
    # candidate is shown.
    photo_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("media_uploads.id", ondelete="SET NULL"),
                                                       index=True)

    contest: Mapped[Contest] = relationship(back_populates="candidates", lazy="raise")

    __table_args__ = (
        UniqueConstraint("contest_id", "code", name="uq_candidates_contest_code"),
        CheckConstraint("code ~ '^[0-9]{1,8}$'", name="code_numeric"),
        Index("ix_candidates_photo_url", "photo_url"),  # an older organiser photo: served while its candidate is shown
    )


class Tally(Base):
    """Votes per candidate; always equal to the sum of quantities of its paid orders."""

    __tablename__ = "tallies"

    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), index=True)
    votes: Mapped[int] = mapped_column(BigInteger, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (CheckConstraint("votes >= 0", name="votes_not_negative"),)
