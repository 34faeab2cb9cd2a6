"""What the public may know of a contest's jury: its formula always, its points only once revealed.

Read by the signed sheet, the board and the overlay; the jury's operations (seats, scoring, the reveal) are the
contests wing's (gateway.core.contests.jury). Points are every juror's added up per candidate, of the round the
reveal names (none yet: the contest's own)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.results.blend import Blended, Formula, Standing, blend
from gateway.db.models import Contest, JuryReveal, JuryScore


@dataclass(frozen=True)
class PublicJury:
    """A contest's formula, and the jury's points per candidate id once revealed (None before)."""

    formula: Formula
    revealed_at: datetime | None = None
    points: Mapping[int, int] | None = field(default=None, hash=False)

    @property
    def revealed(self) -> bool:
        return self.points is not None

    @property
    def shown(self) -> bool:
        """Whether anything of a jury is said at all: a contest of the public alone, never revealed, says nothing
        (its board and sheet read as they always did)."""
        return self.revealed or not self.formula.public_only

    def ranked(self, candidates: Sequence[tuple[int, str]], votes: Mapping[int, int]) -> list[Blended]:
        """The blend of (id, code) candidates with their votes; the jury's points count only once revealed."""
        points = self.points or {}
        return blend([Standing(code, votes.get(cid, 0), points.get(cid, 0)) for cid, code in candidates],
                     self.formula)


async def revealed_points(session: AsyncSession, contest_id: int, round_id: int | None) -> dict[int, int]:
    rows = await session.execute(
        select(JuryScore.candidate_id, func.sum(JuryScore.points))
        .where(JuryScore.contest_id == contest_id, JuryScore.round_id.is_not_distinct_from(round_id))
        .group_by(JuryScore.candidate_id))
    return {candidate: int(total) for candidate, total in rows.all()}


async def public_jury(session: AsyncSession, contest_id: int, weight: int | None = None) -> PublicJury:
    """`weight`: the contest's `public_weight_pct` when the caller has read it already."""
    if weight is None:
        weight = await session.scalar(select(Contest.public_weight_pct).where(Contest.id == contest_id))
    formula = Formula(100 if weight is None else weight)
    reveal = await session.get(JuryReveal, contest_id)
    if reveal is None:
        return PublicJury(formula)
    return PublicJury(formula, reveal.revealed_at, await revealed_points(session, contest_id, reveal.round_id))
