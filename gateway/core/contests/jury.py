"""A contest's jury in the admin area: seats, the formula, each juror's scores, what the organiser sees, the reveal.

Jurors are accounts of the `jury` role seated on a contest by its organiser; a juror sees the contests they sit on and
only their own points, and scores once the contest has opened (the formula and the range of points are fixed then)
until the reveal. The organiser sees how many jurors have scored every candidate, never a point, until they reveal
the jury's points; then the points are public (gateway.core.results.jury_parts) and no juror changes them. The audit
trail says who scored which candidates when, not the points, until the reveal records them all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.contests.rounds import current_round, round_board
from gateway.core.contests.scope import contest_in_scope
from gateway.core.errors import Conflict, DomainError, NotFound
from gateway.core.results.blend import Blended, Formula
from gateway.core.results.jury_parts import public_jury
from gateway.db.engine import Sessions
from gateway.db.models import (
    AdminUser,
    Candidate,
    CandidateStatus,
    Contest,
    ContestStatus,
    JuryRange,
    JuryReveal,
    JuryScore,
    JurySeat,
    Tally,
)

JUROR_ROLE = "jury"
DEFAULT_RANGE = (0, 10)
MAX_POINTS = 1000


@dataclass(frozen=True)
class ScoredCandidate:
    id: int
    code: str
    name: str
    points: int | None  # this juror's; None: not scored yet


@dataclass(frozen=True)
class JurorContest:
    """A contest as a juror sees it: their own points only."""

    id: int
    name: str
    status: ContestStatus
    min_points: int
    max_points: int
    revealed: bool
    candidates: list[ScoredCandidate]


@dataclass(frozen=True)
class JurorProgress:
    email: str
    scored: int  # candidates this juror has scored


@dataclass(frozen=True)
class JuryBoard:
    """The organiser's view: the formula, the range, who sits and how far each has got; the blend once revealed."""

    contest: Contest
    formula: Formula
    min_points: int
    max_points: int
    candidates: int
    jurors: list[JurorProgress]
    revealed_at: datetime | None
    blended: list[Blended] | None  # None until revealed

    @property
    def done(self) -> int:
        """Jurors who have scored every candidate."""
        return sum(1 for juror in self.jurors if self.candidates and juror.scored >= self.candidates)


SCORED = (CandidateStatus.ACTIVE, CandidateStatus.ELIMINATED)  # hidden candidates are neither scored nor shown


async def points_range(session: AsyncSession, contest_id: int) -> tuple[int, int]:
    found = await session.get(JuryRange, contest_id)
    return (found.min_points, found.max_points) if found else DEFAULT_RANGE


async def revealed(session: AsyncSession, contest_id: int) -> JuryReveal | None:
    return await session.get(JuryReveal, contest_id)


# ---- The organiser's side ------------------------------------------------------------------------------------

async def seat_juror(sessions: Sessions, actor: Actor, contest_id: int, email: str) -> None:
    """Seat an account of the jury role on the contest's jury (seating one twice changes nothing)."""
    async with sessions.begin() as session:
        contest = await contest_in_scope(session, actor, contest_id, lock=True)
        if await revealed(session, contest.id):
            raise Conflict("The jury's points are revealed: its seats no longer change.", code="jury_revealed")
        juror = await session.scalar(select(AdminUser).where(AdminUser.email == email.strip().lower()))
        if juror is None or juror.role != JUROR_ROLE or not juror.active:
            raise DomainError(f"{email.strip()!r} is no active account of the jury role.", code="not_a_juror",
                              field="email")
        added = await session.execute(pg_insert(JurySeat).values(contest_id=contest.id, admin_id=juror.id,
                                                                 seated_by=actor.email).on_conflict_do_nothing())
        if added.rowcount:  # type: ignore[attr-defined]
            await audit.record(session, actor, "jury.seat", f"contest:{contest.id}", after={"juror": juror.email})


async def unseat_juror(sessions: Sessions, actor: Actor, contest_id: int, email: str) -> None:
    """Take a juror off the jury before the reveal; their points go with them (never counted, never shown)."""
    async with sessions.begin() as session:
        contest = await contest_in_scope(session, actor, contest_id, lock=True)
        if await revealed(session, contest.id):
            raise Conflict("The jury's points are revealed: its seats no longer change.", code="jury_revealed")
        juror_id = await session.scalar(select(JurySeat.admin_id).join(AdminUser, AdminUser.id == JurySeat.admin_id)
                                        .where(JurySeat.contest_id == contest.id,
                                               AdminUser.email == email.strip().lower()))
        if juror_id is None:
            raise NotFound(f"{email.strip()!r} sits on no seat of this jury.", code="juror_not_found", field="email")
        dropped = await session.execute(delete(JuryScore).where(JuryScore.contest_id == contest.id,
                                                                JuryScore.admin_id == juror_id))
        await session.execute(delete(JurySeat).where(JurySeat.contest_id == contest.id,
                                                     JurySeat.admin_id == juror_id))
        await audit.record(session, actor, "jury.unseat", f"contest:{contest.id}",
                           before={"juror": email.strip().lower(), "scores": dropped.rowcount})  # type: ignore[attr-defined]


async def set_formula(sessions: Sessions, actor: Actor, contest_id: int, public_weight_pct: int, min_points: int,
                      max_points: int) -> Contest:
    """The result's formula and the jury's range of points, while the contest is a draft (never once it opened:
    voters and jurors were told how it counts)."""
    if not 0 <= public_weight_pct <= 100:
        raise DomainError("The public's weight is a whole percentage from 0 to 100.", code="invalid_weight",
                          field="public_weight_pct")
    if not 0 <= min_points < max_points <= MAX_POINTS:
        raise DomainError(f"Points run from a whole number of 0 or more to a larger one, at most {MAX_POINTS}.",
                          code="invalid_points_range", field="max_points")
    async with sessions.begin() as session:
        contest = await contest_in_scope(session, actor, contest_id, lock=True)
        if contest.status is not ContestStatus.DRAFT:
            raise Conflict("The formula is set before the contest opens; it has opened, so it stays as it is.",
                           code="formula_locked", field="public_weight_pct")
        before_range = await points_range(session, contest.id)
        before = {"public_weight_pct": contest.public_weight_pct, "min_points": before_range[0],
                  "max_points": before_range[1]}
        contest.public_weight_pct = public_weight_pct
        await session.execute(pg_insert(JuryRange).values(contest_id=contest.id, min_points=min_points,
                                                          max_points=max_points)
                              .on_conflict_do_update(index_elements=[JuryRange.contest_id],
                                                     set_={"min_points": min_points, "max_points": max_points}))
        after = {"public_weight_pct": public_weight_pct, "min_points": min_points, "max_points": max_points}
        if before != after:
            await audit.record(session, actor, "contest.formula", f"contest:{contest.id}", before=before, after=after)
    return contest


async def jury_board(sessions: Sessions, actor: Actor, contest_id: int) -> JuryBoard:
    """What the organiser sees: counts of scores until the reveal, the points and the blend after it."""
    async with sessions() as session:
        contest = await contest_in_scope(session, actor, contest_id)
        low, high = await points_range(session, contest.id)
        shown = list((await session.execute(
            select(Candidate.id, Candidate.code).where(Candidate.contest_id == contest.id, Candidate.status.in_(SCORED))
            .order_by(Candidate.code))).all())
        scored = func.count(JuryScore.id).filter(JuryScore.candidate_id.in_([cid for cid, _ in shown]))
        jurors = [JurorProgress(email, count) for email, count in (await session.execute(
            select(AdminUser.email, scored).join(JurySeat, JurySeat.admin_id == AdminUser.id)
            .outerjoin(JuryScore, (JuryScore.admin_id == AdminUser.id) & (JuryScore.contest_id == contest.id))
            .where(JurySeat.contest_id == contest.id).group_by(AdminUser.email).order_by(AdminUser.email))).all()]
        public = await public_jury(session, contest.id)
        blended = None
        current = await current_round(session, contest)
        if public.revealed and current is not None:  # a show in rounds: as its round is decided, by its own votes
            board = await round_board(session, current)
            blended = public.ranked([(r.candidate.id, r.candidate.code) for r in board.ranked],
                                    {r.candidate.id: r.votes for r in board.ranked})
        elif public.revealed:
            votes = {cid: count for cid, count in await session.execute(
                select(Tally.candidate_id, Tally.votes).where(Tally.contest_id == contest.id))}
            blended = public.ranked([(cid, code) for cid, code in shown], votes)
    return JuryBoard(contest, public.formula, low, high, len(shown), jurors, public.revealed_at, blended)


async def reveal(sessions: Sessions, actor: Actor, contest_id: int, *, confirmed: bool) -> JuryBoard:
    """Make the jury's points public, once; a person confirms it (it cannot be taken back)."""
    if not confirmed:
        raise DomainError("Confirm the reveal: the jury's points become public and can no longer change.",
                          code="confirm_reveal", field="confirm")
    async with sessions.begin() as session:
        contest = await contest_in_scope(session, actor, contest_id, lock=True)
        if await revealed(session, contest.id):
            raise Conflict("The jury's points are already revealed.", code="jury_revealed")
        seats = await session.scalar(select(func.count()).select_from(JurySeat)
                                     .where(JurySeat.contest_id == contest.id))
        if not seats:
            raise Conflict("No juror sits on this contest's jury: there is nothing to reveal.", code="no_jury")
        session.add(JuryReveal(contest_id=contest.id, revealed_by=actor.email))
        totals = await session.execute(
            select(Candidate.code, func.coalesce(func.sum(JuryScore.points), 0))
            .outerjoin(JuryScore, JuryScore.candidate_id == Candidate.id)
            .where(Candidate.contest_id == contest.id).group_by(Candidate.code).order_by(Candidate.code))
        await audit.record(session, actor, "jury.reveal", f"contest:{contest.id}",
                           details={"jurors": seats, "points": {code: int(total) for code, total in totals.all()}})
    return await jury_board(sessions, actor, contest_id)


# ---- The juror's side --------------------------------------------------------------------------------------------

async def juror_contests(sessions: Sessions, actor: Actor) -> list[JurorContest]:
    """The contests the juror sits on, newest first, each with their own points and nobody else's."""
    async with sessions() as session:
        contests = (await session.scalars(
            select(Contest).join(JurySeat, JurySeat.contest_id == Contest.id)
            .where(JurySeat.admin_id == actor.admin_id).order_by(Contest.id.desc()))).all()
        return [await juror_contest(session, actor, contest) for contest in contests]


async def juror_contest(session: AsyncSession, actor: Actor, contest: Contest) -> JurorContest:
    low, high = await points_range(session, contest.id)
    own = {cid: points for cid, points in await session.execute(select(JuryScore.candidate_id, JuryScore.points).where(
        JuryScore.contest_id == contest.id, JuryScore.admin_id == actor.admin_id))}
    rows = await session.execute(select(Candidate.id, Candidate.code, Candidate.name).where(
        Candidate.contest_id == contest.id, Candidate.status.in_(SCORED)).order_by(Candidate.position, Candidate.code))
    return JurorContest(contest.id, contest.name, contest.status, low, high,
                        await revealed(session, contest.id) is not None,
                        [ScoredCandidate(cid, code, name, own.get(cid)) for cid, code, name in rows.all()])


async def seated_contest(session: AsyncSession, actor: Actor, contest_id: int, *, lock: bool = False) -> Contest:
    """The contest, if the actor sits on its jury; any other is as absent as a missing one."""
    query = (select(Contest).join(JurySeat, JurySeat.contest_id == Contest.id)
             .where(Contest.id == contest_id, JurySeat.admin_id == actor.admin_id))
    contest = await session.scalar(query.with_for_update(key_share=True, of=Contest) if lock else query)
    if contest is None:
        raise NotFound(f"No contest {contest_id} on your jury.", code="contest_not_found")
    return contest


async def score(sessions: Sessions, actor: Actor, contest_id: int, points: Mapping[str, object]) -> JurorContest:
    """The juror's points, by candidate code: each a whole number within the contest's range; all or none."""
    async with sessions.begin() as session:
        # The contest's row lock orders scoring against the reveal: no point lands after the reveal was taken.
        contest = await seated_contest(session, actor, contest_id, lock=True)
        if await revealed(session, contest.id):
            raise Conflict("The jury's points are revealed: they no longer change.", code="jury_revealed")
        if contest.status is ContestStatus.DRAFT:
            raise Conflict("The jury scores once the contest has opened.", code="contest_not_open")
        low, high = await points_range(session, contest.id)
        codes = {code: cid for code, cid in await session.execute(select(Candidate.code, Candidate.id).where(
            Candidate.contest_id == contest.id, Candidate.status.in_(SCORED)))}
        given = checked_points(points, codes, low, high)
        for candidate_id, value in given.items():
            await session.execute(
                pg_insert(JuryScore).values(contest_id=contest.id, admin_id=actor.admin_id, candidate_id=candidate_id,
                                            points=value)
                .on_conflict_do_update(constraint="uq_jury_scores_one_each",
                                       set_={"points": value, "scored_at": func.now()}))
        await audit.record(session, actor, "jury.score", f"contest:{contest.id}",
                           details={"candidates": sorted(code for code in points)})  # the points stay sealed
        return await juror_contest(session, actor, contest)


def checked_points(points: Mapping[str, object], codes: Mapping[str, int], low: int, high: int) -> dict[int, int]:
    """Candidate id -> points, or the first wrong one named (a code that is no candidate, a point out of range)."""
    if not points:
        raise DomainError("Give at least one candidate's points.", code="no_points", field="points")
    given: dict[int, int] = {}
    for code, value in points.items():
        if code not in codes:
            raise DomainError(f"No candidate {code!r} to score in this contest.", code="candidate_not_found",
                              field="points")
        number = value if isinstance(value, int) and not isinstance(value, bool) else whole(value)
        if number is None or not low <= number <= high:
            raise DomainError(f"Candidate {code}: points are a whole number from {low} to {high}.",
                              code="points_out_of_range", field=f"points.{code}")
        given[codes[code]] = number
    return given


def whole(value: object) -> int | None:
    """Digits 0-9 typed in a form, else None (a sign, a space, another script's digits are not points)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 4:
        return int(value)
    return None
