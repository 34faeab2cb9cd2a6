"""The USSD channel's own database reads and writes (all small, indexed queries); contests, votes and
boards come from the vote service."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.ussd.forms import SessionEnd
from channels.ussd.views import MyVotes, OrderLine
from gateway.core.texts import Lang
from gateway.db.engine import autocommit
from gateway.db.models import (
    BlockedMsisdn,
    Candidate,
    OrderStatus,
    UssdSessionEvent,
    VoteOrder,
    VoterPreference,
)

Sessions = async_sessionmaker[AsyncSession]
RECENT_ORDERS = 3


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
