"""A show's rounds and its lines, opened and closed on air: each step checked, audited, in one transaction.

A round holds its own terms (window, price, whether its board carries the counts). When it opens, its terms are
copied into its contest's own columns and the contest points at it (`current_round_id`): every channel, every rule
and page that reads a contest's terms reads the open round's, every new order belongs to it, and a contest with no
rounds is the one-round show it always was. Closing the lines moves the contest's `closes_at` to the instant of the
close (now, or at the end of a countdown): placing reads the contest row in its own transaction, so the close takes
effect at the same instant on every channel and every host.

A round's board is the tallies less the figures it started from (`RoundBaseline`), so the tallies stay the whole
count of the contest, equal to its paid orders and its ledger. Deciding a round (who goes through, by its result or
by hand with a reason) waits until its late payments can no longer count (`late_votes.counts_until`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.contests import price_tiers, round_rules
from gateway.core.contests.ranking import CandidateInfo, RankedRow
from gateway.core.contests.scope import contest_in_scope
from gateway.core.errors import Conflict, DomainError, NotFound
from gateway.core.results.jury_parts import public_jury
from gateway.core.results.round_figures import counted_rounds
from gateway.db.engine import Sessions
from gateway.db.models import (
    Candidate,
    CandidateStatus,
    Contest,
    ContestRound,
    ContestStatus,
    FreeVote,
    OrderStatus,
    ResultsSheet,
    RoundBaseline,
    RoundStatus,
    Tally,
    VoteOrder,
)
from gateway.db.seed import ensure_tallies

MAX_COUNTDOWN = timedelta(minutes=30)
# How long after the close a payment may still count by default (`contests.late_grace_seconds`'s default; the rule
# itself is gateway.core.contests.late_votes).
DEFAULT_LATE_GRACE = timedelta(minutes=5)
# What a round's terms must also meet, read against its contest as locked for the plan: that the contest's providers
# can charge its price and bundles. Those providers' declarations and the refusal's words belong to the caller that
# has them (the admin area, as for the contest's own price), and the rule itself to
# `gateway.core.contests.chargeable_prices`.
TermsCheck = Callable[[Contest, round_rules.RoundPlan], None]


def round_snapshot(row: ContestRound) -> dict[str, Any]:
    return {"number": row.number, "name": row.name, "status": row.status.value, "price_per_vote": row.price_per_vote,
            "closes_at": row.closes_at.isoformat(), "carry_counts": row.carry_counts, "price_tiers": row.price_tiers}


async def rounds_of(session: AsyncSession, contest_id: int) -> list[ContestRound]:
    return list((await session.scalars(select(ContestRound).where(ContestRound.contest_id == contest_id)
                                       .order_by(ContestRound.number))).all())


async def plan_round(sessions: Sessions, actor: Actor, contest_id: int, plan: round_rules.RoundPlan,
                     now: datetime | None = None, *, chargeable: TermsCheck | None = None) -> ContestRound:
    """A new round after the contest's last one, its terms checked (by `chargeable` too, once they are consistent:
    `open_round` copies them onto the contest as they are, so a price its providers cannot charge would fail every
    order of the round); changeable until it opens."""
    plan = round_rules.check_plan(plan, now or datetime.now(UTC))
    async with sessions.begin() as session:
        contest = await contest_in_scope(session, actor, contest_id, lock=True)
        if contest.status is ContestStatus.CLOSED:
            raise Conflict("A closed contest takes no new round.", code="invalid_transition")
        tiers = price_tiers.check_tiers(plan.price_tiers, plan.price_per_vote, contest.max_votes_per_order)
        if chargeable is not None:
            chargeable(contest, replace(plan, price_tiers=tiers))
        last = await session.scalar(select(func.max(ContestRound.number)).where(ContestRound.contest_id == contest.id))
        row = ContestRound(contest_id=contest.id, number=(last or 0) + 1, name=plan.name,
                           price_per_vote=plan.price_per_vote, closes_at=plan.closes_at, carry_counts=plan.carry_counts,
                           price_tiers=price_tiers.stored_tiers(tiers))
        session.add(row)
        await session.flush()
        await audit.record(session, actor, "round.plan", f"contest:{contest.id}", after=round_snapshot(row))
    return row


async def _round(session: AsyncSession, contest: Contest, number: int) -> ContestRound:
    row = await session.scalar(select(ContestRound).where(ContestRound.contest_id == contest.id,
                                                          ContestRound.number == number).with_for_update())
    if row is None:
        raise NotFound(f"The contest has no round {number}.", code="round_not_found")
    return row


async def open_round(sessions: Sessions, actor: Actor, contest_id: int, number: int,
                     now: datetime | None = None) -> ContestRound:
    """"Lines are now open": the round's terms become the contest's, its board starts, every channel offers it."""
    now = now or datetime.now(UTC)
    async with sessions.begin() as session:
        contest = await contest_in_scope(session, actor, contest_id, lock=True)
        row = await _round(session, contest, number)
        if row.status is not RoundStatus.PLANNED:
            raise Conflict(f"Round {number} is {row.status.value}: only a planned round opens.",
                           code="invalid_transition")
        if contest.status is ContestStatus.CLOSED:
            raise Conflict("The contest is closed.", code="invalid_transition")
        earlier = [r for r in await rounds_of(session, contest.id) if r.number < number]
        if any(r.status is not RoundStatus.DECIDED for r in earlier):
            raise Conflict("Decide who goes through the earlier rounds first.", code="earlier_round_open")
        if row.closes_at <= now:
            raise Conflict("The round's lines would already be closed: move its close first.", code="window_over")
        still_in = list((await session.scalars(select(Candidate.id).where(
            Candidate.contest_id == contest.id, Candidate.status == CandidateStatus.ACTIVE))).all())
        if not still_in:
            raise Conflict("No candidate is still in.", code="no_candidates")
        await ensure_tallies(session, contest.id)
        tallies = await _tallies(session, contest.id)
        previous = await _baselines(session, earlier[-1].id) if earlier else None
        for candidate, votes in round_rules.starting_figures(still_in, tallies, previous, row.carry_counts).items():
            session.add(RoundBaseline(round_id=row.id, candidate_id=candidate, votes=votes))
        before = {"status": contest.status.value, "closes_at": contest.closes_at.isoformat()}
        row.status, row.opened_at = RoundStatus.OPEN, now
        contest.status, contest.opens_at, contest.closes_at = ContestStatus.OPEN, now, row.closes_at
        contest.price_per_vote, contest.current_round_id = row.price_per_vote, row.id
        contest.price_tiers = list(row.price_tiers)
        contest.board_frozen_at = None  # a freeze of the round before would hold this round's board at zero
        await audit.record(session, actor, "round.open", f"contest:{contest.id}", before=before,
                           after=round_snapshot(row))
    return row


async def close_lines(sessions: Sessions, actor: Actor, contest_id: int, countdown_seconds: int = 0,
                      now: datetime | None = None) -> datetime:
    """"Lines are now closed" (or close at the end of a countdown): no vote is taken from that instant, on any
    channel; the instant is returned. A contest with no rounds closes its lines the same way."""
    now = now or datetime.now(UTC)
    if isinstance(countdown_seconds, bool) or not isinstance(countdown_seconds, int) \
            or not 0 <= countdown_seconds <= MAX_COUNTDOWN.total_seconds():
        raise DomainError(f"A countdown is 0 to {int(MAX_COUNTDOWN.total_seconds())} seconds.", code="invalid_field",
                          field="countdown_seconds")
    closes = now + timedelta(seconds=countdown_seconds)
    async with sessions.begin() as session:
        contest = await contest_in_scope(session, actor, contest_id, lock=True)
        if contest.status is not ContestStatus.OPEN or contest.opens_at > now:
            raise Conflict("The lines are not open.", code="lines_not_open")
        if contest.closes_at <= closes:
            if contest.closes_at <= now:
                raise Conflict("The lines are already closed.", code="lines_closed")
            raise Conflict(f"The lines already close sooner, at {contest.closes_at:%H:%M:%S} UTC.",
                           code="lines_close_sooner")
        before = contest.closes_at
        contest.closes_at = max(closes, contest.opens_at + timedelta(microseconds=1))
        if contest.current_round_id is not None:
            row = await session.get(ContestRound, contest.current_round_id, with_for_update=True)
            if row is not None and row.status is RoundStatus.OPEN:
                row.closes_at = contest.closes_at
        await audit.record(session, actor, "lines.close", f"contest:{contest.id}",
                           before={"closes_at": before.isoformat()},
                           after={"closes_at": contest.closes_at.isoformat(), "countdown_seconds": countdown_seconds})
    return contest.closes_at


@dataclass(frozen=True)
class RoundBoard:
    """A round's standing: its candidates ranked by the round's figures, and who went through once decided."""

    round: ContestRound
    ranked: list[RankedRow]
    through: frozenset[int]


async def round_board(session: AsyncSession, row: ContestRound) -> RoundBoard:
    """A round's standing: while open the tallies less its baselines (and the free votes of the rounds it shows,
    where the organiser counts them as paid ones, as its public board does); once decided, its final figures."""
    rows = (await session.execute(
        select(RoundBaseline.candidate_id, RoundBaseline.votes, RoundBaseline.final_votes, RoundBaseline.went_through,
               Candidate.code, Candidate.name)
        .join(Candidate, Candidate.id == RoundBaseline.candidate_id).where(RoundBaseline.round_id == row.id))).all()
    infos = [CandidateInfo(r.candidate_id, r.code, r.name) for r in rows]
    if row.status is RoundStatus.DECIDED:
        figures = {r.candidate_id: r.final_votes or 0 for r in rows}
    else:
        figures = round_rules.round_figures(await _tallies(session, row.contest_id),
                                            {r.candidate_id: r.votes for r in rows})
        for candidate, free in (await counted_free_votes(session, row)).items():
            if candidate in figures:
                figures[candidate] += free
    through = frozenset(r.candidate_id for r in rows if r.went_through)
    return RoundBoard(row, round_rules.ranked_round(infos, figures), through)


def late_grace(contest: Contest) -> timedelta:
    """How long after its close a round's payments may still count: the contest's published grace."""
    return timedelta(seconds=contest.late_grace_seconds)


async def decide_round(sessions: Sessions, actor: Actor, contest_id: int, number: int, *, places: int | None = None,
                       by_hand: list[str] | None = None, reason: str | None = None,
                       now: datetime | None = None) -> RoundBoard:
    """Who goes through: the first `places` of the round's result (`round_rules.TIE_RULE`), or the codes
    `by_hand` with a `reason`; the others are eliminated (they keep their votes and take no more)."""
    async with sessions.begin() as session:
        contest = await contest_in_scope(session, actor, contest_id, lock=True)
        row = await _round(session, contest, number)
        if row.status is not RoundStatus.OPEN:
            raise Conflict(f"Round {number} is {row.status.value}: only an open round is decided.",
                           code="invalid_transition")
        # The database's clock, as the late-vote rule's; and the tallies held, so no count lands between the read
        # of the round's figures and the decision.
        now = now or await session.scalar(select(func.now()))
        assert now is not None
        # In the candidates' order, as a count's batch takes them (gateway.core.orders.count_batches): never a deadlock.
        await session.execute(select(Tally.candidate_id).where(Tally.contest_id == contest.id)
                              .order_by(Tally.candidate_id).with_for_update())
        waiting = await session.scalar(select(func.count()).select_from(VoteOrder).where(
            VoteOrder.round_id == row.id, VoteOrder.status.in_((OrderStatus.HELD, OrderStatus.FLAGGED))))
        if waiting:
            raise Conflict(f"{waiting} paid orders of this round wait in the review queue: count or refuse them "
                           "first, so the round is decided on every vote it took.", code="orders_in_review")
        last_count = row.closes_at + late_grace(contest)
        if now < last_count:
            raise Conflict(f"Payments may still count until {last_count:%H:%M:%S} UTC: decide after that.",
                           code="late_payments_may_count")
        board = await round_board(session, row)
        jury = await public_jury(session, contest.id, contest.public_weight_pct)
        if jury.revealed:  # a round decided with the jury: by the blend of its votes and the jury's points
            blended = jury.ranked([(r.candidate.id, r.candidate.code) for r in board.ranked],
                                  {r.candidate.id: r.votes for r in board.ranked})
            board = RoundBoard(row, round_rules.ranked_by_blend([r.candidate for r in board.ranked],
                                                                [(b.code, b.votes, b.rank) for b in blended]),
                               board.through)
        if by_hand is not None:
            through = round_rules.through_by_hand([r.candidate for r in board.ranked], by_hand, reason)
        else:
            through = round_rules.through_by_result(board.ranked, places or 0)
        ids = {candidate.id for candidate in through}
        final = {r.candidate.id: r.votes for r in board.ranked}
        for baseline in (await session.scalars(select(RoundBaseline).where(RoundBaseline.round_id == row.id))).all():
            baseline.went_through = baseline.candidate_id in ids
            baseline.final_votes = final.get(baseline.candidate_id, 0)
        for candidate in (await session.scalars(select(Candidate).where(
                Candidate.id.in_([r.candidate.id for r in board.ranked]), Candidate.id.not_in(ids)))).all():
            if candidate.status is CandidateStatus.ACTIVE:
                candidate.status = CandidateStatus.ELIMINATED
        row.status, row.decided_at = RoundStatus.DECIDED, now
        row.decided_by, row.decision_reason = ("hand", reason.strip() if reason else None) if by_hand is not None \
            else ("result", round_rules.TIE_RULE)
        await audit.record(session, actor, "round.decide", f"contest:{contest.id}", details={
            "round": row.number, "by": row.decided_by, "reason": row.decision_reason,
            "through": [c.code for c in through],
            "result": [{"code": r.candidate.code, "votes": r.votes, "rank": r.rank} for r in board.ranked]})
    return RoundBoard(row, board.ranked, frozenset(ids))


async def shown_rounds(session: AsyncSession, row: ContestRound) -> list[int]:
    """The rounds whose votes a round's board shows: itself, and while it carries the counts, the ones before."""
    return counted_rounds(await rounds_of(session, row.contest_id), row.number)


async def round_free_votes(session: AsyncSession, row: ContestRound) -> dict[int, int]:
    """The free votes taken in the rounds a round's board shows, per candidate."""
    found = await session.execute(select(FreeVote.candidate_id, func.count()).where(
        FreeVote.round_id.in_(await shown_rounds(session, row))).group_by(FreeVote.candidate_id))
    return {candidate: int(count) for candidate, count in found.all()}


async def counted_free_votes(session: AsyncSession, row: ContestRound) -> dict[int, int]:
    """A round's free votes where its organiser counts each as a paid one; none where they are shown apart."""
    weight = await session.scalar(select(Contest.free_vote_weight).where(Contest.id == row.contest_id))
    return await round_free_votes(session, row) if weight == "counted" else {}


async def open_round_of(session: AsyncSession | AsyncConnection, contest_id: int) -> ContestRound | None:
    """The contest's current round while it is open (decided rounds and contests without rounds: None)."""
    found = await session.execute(select(ContestRound).join(Contest, Contest.current_round_id == ContestRound.id)
                                  .where(Contest.id == contest_id, ContestRound.status == RoundStatus.OPEN))
    return found.scalars().one_or_none()


async def keep_open_round(session: AsyncSession | AsyncConnection, contest_id: int, round_id: int | None,
                          candidate_id: int, delta: int) -> None:
    """A vote of an earlier round counted (`delta` > 0) or taken back (< 0) while a later round is open: that round's
    board is the tallies less the figures it started from, so its baseline follows, and its board does not move
    for a vote that is not its own (one of a round its board carries the counts of moves it, as it should)."""
    if round_id is None or not delta:
        return
    current = await open_round_of(session, contest_id)
    if current is None or current.id == round_id:
        return
    every = (await session.execute(select(ContestRound).where(ContestRound.contest_id == contest_id))).scalars().all()
    if round_id in counted_rounds(list(every), current.number):
        return
    await session.execute(update(RoundBaseline).where(RoundBaseline.round_id == current.id,
                                                      RoundBaseline.candidate_id == candidate_id)
                          .values(votes=RoundBaseline.votes + delta))


@dataclass(frozen=True)
class PublishedTerms:
    """What a live contest promised its voters: the open round's close, price and bundles, and the late-vote grace."""

    closes_at: datetime
    price_per_vote: int
    price_tiers: list[dict[str, int]]
    late_grace_seconds: int
    currency: str = ""

    @classmethod
    def of(cls, contest: Contest) -> PublishedTerms:
        return cls(contest.closes_at, contest.price_per_vote, list(contest.price_tiers), contest.late_grace_seconds,
                   contest.currency)


async def keep_published_terms(session: AsyncSession, contest: Contest, before: PublishedTerms) -> None:
    """After a save of the contest's form: an open round's close, price and bundles stay the round's (the form shows
    the close to the minute; a producer's close is to the second, and moving it is the control room's), the
    late-vote grace, printed since the contest opened, stays as published (a form's whole minutes of it keep it), and
    a show with rounds keeps its currency."""
    grace = contest.late_grace_seconds
    if contest.status is not ContestStatus.DRAFT and grace != before.late_grace_seconds:
        if grace != 60 * (before.late_grace_seconds // 60):
            raise Conflict("The late-vote rule is published once the contest opens: its grace stays as it is.",
                           code="grace_locked", field="late_grace_seconds")
        contest.late_grace_seconds = before.late_grace_seconds
    if contest.currency != before.currency and await session.scalar(
            select(ContestRound.id).where(ContestRound.contest_id == contest.id).limit(1)) is not None:
        # Its rounds' prices and bundles are amounts of it: another currency would read them as other sums.
        raise Conflict("A show with rounds keeps its currency: its rounds are priced in it.", code="currency_locked",
                       field="currency")
    row = await current_round(session, contest)
    if row is not None and row.status is RoundStatus.OPEN:
        contest.closes_at, contest.price_per_vote = before.closes_at, before.price_per_vote
        contest.price_tiers = before.price_tiers


async def join_open_round(session: AsyncSession, contest_id: int, candidate_ids: list[int]) -> None:
    """Candidates added or restored while a round is open join it from their tally now (its board from zero)."""
    current = await open_round_of(session, contest_id)
    if current is None or not candidate_ids:
        return
    tallies = await _tallies(session, contest_id)
    await session.execute(pg_insert(RoundBaseline).values([
        {"round_id": current.id, "candidate_id": c, "votes": tallies.get(c, 0)} for c in candidate_ids])
        .on_conflict_do_nothing())


async def decided_unsigned(sessions: Sessions, actor: Actor, contest_id: int, number: int) -> RoundBoard | None:
    """A round decided whose results were never signed (the signing failed after the decision): its board, for the
    signing to be done again; None otherwise."""
    async with sessions() as session:
        contest = await contest_in_scope(session, actor, contest_id)
        row = await session.scalar(select(ContestRound).where(ContestRound.contest_id == contest.id,
                                                              ContestRound.number == number))
        if row is None or row.status is not RoundStatus.DECIDED:
            return None
        if await session.scalar(select(ResultsSheet.id).where(ResultsSheet.round_id == row.id).limit(1)):
            return None
        return await round_board(session, row)


async def current_round(session: AsyncSession, contest: Contest) -> ContestRound | None:
    if contest.current_round_id is None:
        return None
    return await session.get(ContestRound, contest.current_round_id)


async def _tallies(session: AsyncSession, contest_id: int) -> dict[int, int]:
    return {c: v for c, v in (await session.execute(select(Tally.candidate_id, Tally.votes)
                                                     .where(Tally.contest_id == contest_id))).all()}


async def _baselines(session: AsyncSession, round_id: int) -> dict[int, int]:
    return {c: v for c, v in (await session.execute(select(RoundBaseline.candidate_id, RoundBaseline.votes)
                                                     .where(RoundBaseline.round_id == round_id))).all()}
