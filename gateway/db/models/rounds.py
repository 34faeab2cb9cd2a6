"""A contest's rounds: each its own window, price and board; the candidates still in; who went through."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models.base import Base, enum_column


class RoundStatus(StrEnum):
    PLANNED = "planned"  # set up, terms still changeable
    OPEN = "open"  # its terms are the contest's; its lines may since have closed (the contest's closes_at)
    DECIDED = "decided"  # who goes through is decided; its results are final


class ContestRound(Base):
    """One round of a show. While it is open its terms are copied into its contest's own columns, so every
    channel, rule and page that reads a contest's terms reads the open round's (gateway.core.contests.rounds)."""

    __tablename__ = "contest_rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[RoundStatus] = mapped_column(enum_column(RoundStatus, "round_status"),
                                                server_default=RoundStatus.PLANNED.value)
    price_per_vote: Mapped[int] = mapped_column(BigInteger)  # minor units of the contest's currency
    # Its bundles, as a contest keeps them (gateway.core.contests.price_tiers): [] sells every vote at the price.
    price_tiers: Mapped[list[dict[str, int]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    # The latest moment its lines close if nobody closes them on air first; an on-air close moves it earlier.
    closes_at: Mapped[datetime]
    # Its board starts from the previous round's figures (True) or from zero (False): chosen before it opens.
    carry_counts: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    opened_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    # How the candidates who went through were chosen: "result" (the round's ranking) or "hand" (with a reason).
    decided_by: Mapped[str | None] = mapped_column(String(16))
    decision_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint("price_per_vote > 0", name="price_positive"),
        Index("uq_contest_rounds_contest_number", "contest_id", "number", unique=True),
        # One open round per contest at a time.
        Index("uq_contest_rounds_open", "contest_id", unique=True, postgresql_where=text("status = 'open'")),
    )


class RoundBaseline(Base):
    """The figure each candidate's round board started from: its tally when the round opened (a board from zero)
    or the previous round's starting figure (a board that carries the counts). The round's figure is the tally less
    it: the tallies stay the contest's whole count, equal to its paid orders."""

    __tablename__ = "round_baselines"

    round_id: Mapped[int] = mapped_column(ForeignKey("contest_rounds.id", ondelete="CASCADE"), primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), primary_key=True)
    votes: Mapped[int] = mapped_column(BigInteger)
    # Set when the round is decided: its final figure (its board from then on) and whether the candidate went through.
    final_votes: Mapped[int | None] = mapped_column(BigInteger)
    went_through: Mapped[bool | None] = mapped_column(Boolean)
