"""The USSD channel's database reads and writes (all small, indexed queries)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.ussd.forms import SessionEnd
from channels.ussd.views import CandidateRecord, ContestRecord, MyVotes, OrderLine, TopEntry
from gateway.core.texts import Lang
from gateway.db.engine import autocommit
from gateway.db.models import (
    BlockedMsisdn,
    Candidate,
    CandidateStatus,
    Contest,
    ContestStatus,
    OrderStatus,
    Tally,
    UssdSessionEvent,
    VoteOrder,
    VoterPreference,
)

Sessions = async_sessionmaker[AsyncSession]
RECENT_ORDERS = 3


async def contests_for_code(sessions: Sessions, service_code: str) -> tuple[ContestRecord, ...]:
    """Every public contest dialled by this code (drafts are invisible), soonest closing first."""
    async with autocommit(sessions) as session:
        contests = list(await session.scalars(
            select(Contest)
            .where(Contest.ussd_service_codes.contains([service_code]), Contest.status != ContestStatus.DRAFT)
            .order_by(Contest.closes_at, Contest.id)
        ))
        rows = (await session.execute(
            select(Candidate.contest_id, Candidate.code, Candidate.name, Candidate.status)
            .where(Candidate.contest_id.in_([c.id for c in contests]), Candidate.status != CandidateStatus.HIDDEN)
            .order_by(Candidate.code)
        )).all() if contests else []
    return tuple(_record(contest, [CandidateRecord(code, name, status.value)
                                   for contest_id, code, name, status in rows if contest_id == contest.id])
                 for contest in contests)


def _record(contest: Contest, candidates: list[CandidateRecord]) -> ContestRecord:
    return ContestRecord(
        id=contest.id, slug=contest.slug, name=contest.name, status=contest.status.value,
        opens_at=contest.opens_at, closes_at=contest.closes_at, price_per_vote=contest.price_per_vote,
        currency=contest.currency, max_votes_per_order=contest.max_votes_per_order,
        providers=tuple(contest.providers), default_language=contest.default_language,
        show_counts=contest.show_counts, board_frozen_at=contest.board_frozen_at, candidates=tuple(candidates),
    )


async def caller(sessions: Sessions, msisdn: str) -> tuple[Lang | None, bool]:
    """The number's remembered language, and whether it is blocked: one round trip, once per session."""
    language = select(VoterPreference.language).where(VoterPreference.msisdn == msisdn).scalar_subquery()
    blocked = select(BlockedMsisdn.msisdn).where(BlockedMsisdn.msisdn == msisdn).exists()
    async with autocommit(sessions) as session:
        row = (await session.execute(select(language, blocked))).one()
    return Lang.parse(row[0]), bool(row[1])


async def remember_language(sessions: Sessions, msisdn: str, language: Lang) -> None:
    async with sessions.begin() as session:
        await session.execute(
            pg_insert(VoterPreference).values(msisdn=msisdn, language=language.value)
            .on_conflict_do_update(index_elements=[VoterPreference.msisdn],
                                   set_={"language": language.value, "updated_at": func.now()})
        )


async def top_five(sessions: Sessions, contest_id: int) -> tuple[TopEntry, ...]:
    async with autocommit(sessions) as session:
        rows = await session.execute(
            select(Candidate.code, Tally.votes).join(Tally, Tally.candidate_id == Candidate.id)
            .where(Tally.contest_id == contest_id, Tally.votes > 0, Candidate.status != CandidateStatus.HIDDEN)
            .order_by(Tally.votes.desc(), Candidate.code).limit(5)
        )
        return tuple(TopEntry(code, int(votes)) for code, votes in rows)


async def my_votes(sessions: Sessions, contest_id: int, msisdn: str) -> MyVotes:
    mine = (VoteOrder.contest_id == contest_id, VoteOrder.voter_msisdn == msisdn)
    async with autocommit(sessions) as session:
        paid, pending = (await session.execute(
            select(func.coalesce(func.sum(VoteOrder.quantity).filter(VoteOrder.status == OrderStatus.PAID), 0),
                   func.count().filter(VoteOrder.status == OrderStatus.PENDING)).where(*mine)
        )).one()
        recent = await session.execute(
            select(Candidate.code, VoteOrder.quantity, VoteOrder.status)
            .join(Candidate, Candidate.id == VoteOrder.candidate_id)
            .where(*mine).order_by(VoteOrder.created_at.desc()).limit(RECENT_ORDERS)
        )
        lines = tuple(OrderLine(code, quantity, status.value) for code, quantity, status in recent)
    return MyVotes(int(paid), int(pending), lines)


async def record_session_end(sessions: Sessions, event: SessionEnd) -> None:
    async with sessions.begin() as session:
        session.add(UssdSessionEvent(session_id=event.session_id, msisdn=event.msisdn, status=event.status,
                                     payload=event.payload))
