"""What a channel's queries of its own tables may ask of the core's rows, so that no channel names a core table:
the channel filters its rows by these (`ItsContest.contest_id.in_(live_contest_ids())`), and the core alone
knows how a contest is live or whose an order is."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Contest, ContestStatus, VoteOrder


def live_contest_ids() -> Select[int]:
    """The contests not closed: a draft, open or paused one may still take votes, so its channels must work."""
    return select(Contest.id).where(Contest.status != ContestStatus.CLOSED)


def contest_ids_live_since(since: datetime) -> Select[int]:
    """The contests not closed, and those whose voting window ended after `since`: a provider's statement still
    lists their last payments, whose word may come after the close."""
    return select(Contest.id).where(or_(Contest.status != ContestStatus.CLOSED, Contest.closes_at > since))


@dataclass(frozen=True)
class VotingWindow:
    opens_at: datetime
    closes_at: datetime
    closed: bool  # closed (by hand, maybe before `closes_at`)


async def voting_windows(session: AsyncSession, contest_ids: Sequence[int]) -> dict[int, VotingWindow]:
    """Each contest's voting window, by id."""
    rows = await session.execute(select(Contest.id, Contest.opens_at, Contest.closes_at, Contest.status)
                                 .where(Contest.id.in_(list(contest_ids))))
    return {row.id: VotingWindow(row.opens_at, row.closes_at, row.status is ContestStatus.CLOSED) for row in rows}


def contest_order_ids(contest_id: int) -> Select[uuid.UUID]:
    """The contest's orders, whatever became of them."""
    return select(VoteOrder.id).where(VoteOrder.contest_id == contest_id)


def contest_ids_taking_votes(now: datetime) -> Select[int]:
    """The contests taking votes at `now`: open, and inside their voting window."""
    return select(Contest.id).where(Contest.status == ContestStatus.OPEN, Contest.opens_at <= now,
                                    Contest.closes_at > now)
