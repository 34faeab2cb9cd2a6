"""What refunds and payouts going out by a provider's API share (gateway.core.money_out.refunds_sent, payouts_sent):
a row per sum owed, whose id is the provider's reference, in `requested` (to send, again with the same reference
after a failed attempt) or `sent` (its status to read) until it is decided; claimed a few at a time, each claim a
lease (a killed worker's rows come back), and looked at again later and later while the provider has not decided."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import select, update

from gateway.db.engine import Sessions

CLAIM_LEASE = timedelta(minutes=2)  # a claimed row is not claimed again meanwhile
FIRST_LOOK = timedelta(seconds=10)  # after it was sent: the provider decides in seconds
RETRY_AFTER = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1))
PER_PASS = 20
Row = TypeVar("Row")


def later(attempts: int) -> timedelta:
    return RETRY_AFTER[min(max(attempts - 1, 0), len(RETRY_AFTER) - 1)]


async def claim_due(sessions: Sessions, model: type[Row], open_states: Sequence[StrEnum], now: datetime,
                    limit: int = PER_PASS) -> list[Row]:
    """The rows due now (at most `limit`), each claimed for `CLAIM_LEASE`, its attempts counted."""
    table: Any = model
    due = (select(table.id).where(table.state.in_(open_states), table.due_at <= now).order_by(table.due_at)
           .limit(limit).with_for_update(skip_locked=True).scalar_subquery())
    async with sessions.begin() as session:
        claimed = await session.scalars(update(table).where(table.id.in_(due))
                                        .values(due_at=now + CLAIM_LEASE, attempts=table.attempts + 1)
                                        .returning(table))
        return list(claimed)


async def move(sessions: Sessions, model: type[Any], key: Any, open_states: Sequence[StrEnum], state: StrEnum,
               due_at: datetime) -> None:
    """Sent, or to send again: only while the row is still open (a decision made meanwhile stands)."""
    async with sessions.begin() as session:
        await session.execute(update(model).where(model.id == key, model.state.in_(open_states))
                              .values(state=state, due_at=due_at))


async def due_again(sessions: Sessions, model: type[Any], key: Any, due_at: datetime) -> None:
    async with sessions.begin() as session:
        await session.execute(update(model).where(model.id == key).values(due_at=due_at))
