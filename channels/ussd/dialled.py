"""Which contests a USSD service code dials, from USSD's own table (`ussd_contests`); whether a contest is live
or taking votes is the core's word (gateway.core.channel_queries)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.ussd.models import UssdContest
from gateway.core.channel_queries import contest_ids_taking_votes, live_contest_ids


def contest_ids_dialled(service_code: str) -> Select[int]:
    """The contests this service code dials, whatever their state (the vote service shows the public ones)."""
    return select(UssdContest.contest_id).where(UssdContest.service_codes.contains([service_code]))


async def live_contests_dialled(session: AsyncSession) -> int:
    """How many contests not closed a USSD service code dials."""
    return int(await session.scalar(select(func.count()).where(
        UssdContest.contest_id.in_(live_contest_ids()), func.cardinality(UssdContest.service_codes) > 0)) or 0)


async def other_open_contests_dialled(session: AsyncSession, service_code: str, contest_id: int,
                                      now: datetime) -> int:
    """How many other contests taking votes now this USSD service code dials: with any, the menu first asks
    which contest (USSD's how-to-vote line then cannot skip it)."""
    return int(await session.scalar(select(func.count()).where(
        UssdContest.contest_id != contest_id, UssdContest.contest_id.in_(contest_ids_taking_votes(now)),
        UssdContest.service_codes.contains([service_code]))) or 0)
