"""What a channel's queries of its own tables may ask of the core's rows, so that no channel names a core table:
the channel filters its rows by these (`ItsContest.contest_id.in_(live_contest_ids())`), and the core alone
knows how a contest is live or whose an order is."""

from __future__ import annotations

import uuid
from datetime import datetime

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


async def other_open_contests_dialled(session: AsyncSession, service_code: str, contest_id: int,
                                      now: datetime) -> int:
    """How many other contests taking votes now this USSD service code dials: with any, the menu first asks
    which contest (USSD's how-to-vote line then cannot skip it)."""
    return int(await session.scalar(select(func.count()).where(
        Contest.id != contest_id, Contest.status == ContestStatus.OPEN, Contest.opens_at <= now,
        Contest.closes_at > now, Contest.ussd_service_codes.contains([service_code]))) or 0)
