"""Read-side queries: contests, their candidates, and orders with their human labels."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.core.errors import NotFound
from gateway.db.engine import autocommit
from gateway.db.models import Candidate, CandidateStatus, Contest, ContestStatus, VoteOrder

Sessions = async_sessionmaker[AsyncSession]
PUBLIC_STATUSES = (ContestStatus.OPEN, ContestStatus.PAUSED, ContestStatus.CLOSED)


@dataclass(frozen=True)
class OrderView:
    order: VoteOrder
    contest_slug: str
    candidate_code: str
    candidate_name: str


async def public_contests(sessions: Sessions) -> list[Contest]:
    """Contests the public may see (not drafts), soonest closing first."""
    async with autocommit(sessions) as session:
        rows = await session.scalars(
            select(Contest).where(Contest.status.in_(PUBLIC_STATUSES)).order_by(Contest.closes_at, Contest.id)
        )
        return list(rows)


async def contest_by_slug(sessions: Sessions, slug: str) -> tuple[Contest, list[Candidate]]:
    """A public contest and its active candidates in code order."""
    async with autocommit(sessions) as session:
        contest = await session.scalar(
            select(Contest).where(Contest.slug == slug, Contest.status.in_(PUBLIC_STATUSES))
        )
        if contest is None:
            raise NotFound(f"No contest is called {slug!r}.", code="contest_not_found")
        candidates = await session.scalars(
            select(Candidate)
            .where(Candidate.contest_id == contest.id, Candidate.status == CandidateStatus.ACTIVE)
            .order_by(Candidate.code)
        )
        return contest, list(candidates)


async def order_view(sessions: Sessions, order_id: uuid.UUID) -> OrderView:
    async with autocommit(sessions) as session:
        row = (await session.execute(
            select(VoteOrder, Contest.slug, Candidate.code, Candidate.name)
            .join(Contest, Contest.id == VoteOrder.contest_id)
            .join(Candidate, Candidate.id == VoteOrder.candidate_id)
            .where(VoteOrder.id == order_id)
        )).one_or_none()
    if row is None:
        raise NotFound("No vote order has that id.", code="order_not_found")
    return OrderView(*row)
