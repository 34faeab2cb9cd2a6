"""A contest's jury: who sits on it, each juror's points per candidate, the range of points, and its reveal.

A juror is an admin account of the `jury` role given a seat on a contest here (not in `contest_organisers`: a seat
grants scoring and nothing of what organising a contest grants). Points stay sealed, each juror seeing only their
own, until the organiser reveals them (`JuryReveal`); the contest's `public_weight_pct` says how they count
(gateway.core.results.blend)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models.base import Base


class JurySeat(Base):
    """A juror sits on a contest's jury; the contest's points run from `JuryRange.min_points` to its max."""

    __tablename__ = "jury_seats"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"), primary_key=True,
                                          index=True)
    seated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    seated_by: Mapped[str] = mapped_column(String(254))


class JuryRange(Base):
    """The points a juror may give a candidate, as the organiser set them before opening (0-10 by default)."""

    __tablename__ = "jury_ranges"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True)
    min_points: Mapped[int] = mapped_column(Integer, server_default="0")
    max_points: Mapped[int] = mapped_column(Integer, server_default="10")

    __table_args__ = (CheckConstraint("min_points >= 0 AND max_points > min_points AND max_points <= 1000",
                                      name="points_range"),)


class JuryScore(Base):
    """One juror's points for one candidate; changed in place until the reveal, never after."""

    __tablename__ = "jury_scores"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), index=True)
    # The round scored (contest_rounds.id); NULL: the contest itself. A plain column until the rounds' table is in.
    round_id: Mapped[int | None] = mapped_column(Integer)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    points: Mapped[int] = mapped_column(Integer)
    scored_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        UniqueConstraint("contest_id", "round_id", "admin_id", "candidate_id", name="uq_jury_scores_one_each",
                         postgresql_nulls_not_distinct=True),
        CheckConstraint("points >= 0", name="points_not_negative"),
    )


class JuryReveal(Base):
    """The organiser revealed the jury's points: from then on they are public and no juror changes them."""

    __tablename__ = "jury_reveals"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True)
    round_id: Mapped[int | None] = mapped_column(Integer)
    revealed_at: Mapped[datetime] = mapped_column(server_default=func.now())
    revealed_by: Mapped[str] = mapped_column(String(254))
