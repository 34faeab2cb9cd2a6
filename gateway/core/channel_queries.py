"""What a channel's queries of its own tables may ask of the core's rows, so that no channel names a core table:
the channel filters its rows by these (`ItsContest.contest_id.in_(live_contest_ids())`), and the core alone
knows how a contest is live or whose an order is."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Contest, ContestStatus, VoteOrder


def live_contest_ids() -> Select[int]:
    """The contests not closed: a draft, open or paused one may still take votes, so its channels must work."""
    return select(Contest.id).where(Contest.status != ContestStatus.CLOSED)


def contest_order_ids(contest_id: int) -> Select[uuid.UUID]:
    """The contest's orders, whatever became of them."""
    return select(VoteOrder.id).where(VoteOrder.contest_id == contest_id)


async def live_contests_dialled(session: AsyncSession) -> int:
    """How many contests not closed a USSD service code dials (the codes are the contest's own columns)."""
    return int(await session.scalar(select(func.count()).where(
        Contest.status != ContestStatus.CLOSED, func.cardinality(Contest.ussd_service_codes) > 0)) or 0)
