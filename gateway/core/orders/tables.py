"""The order tables as Core statements use them, and what every step of an order's life shares: reading one
order, turning a Core row into a `VoteOrder`, queueing an outbox event in the order's transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    bindparam,
    insert,
    select,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.errors import NotFound
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import (
    Candidate,
    Contest,
    OutboxMessage,
    VoteOrder,
)

CONTESTS, CANDIDATES, ORDERS_TABLE = Contest.__table__, Candidate.__table__, VoteOrder.__table__
ORDER_BY_ID = select(ORDERS_TABLE).where(ORDERS_TABLE.c.id == bindparam("order_key"))


def detached_order(row: Row[Any]) -> VoteOrder:
    """A `VoteOrder` from a Core row of every column (attached to no session: read it, do not change it)."""
    return VoteOrder(**{column.key: row._mapping[column.key] for column in ORDERS_TABLE.c})


async def get_order(sessions: Sessions, order_id: uuid.UUID) -> VoteOrder:
    async with autocommit(sessions) as session:
        order = await session.get(VoteOrder, order_id)
    if order is None:
        raise NotFound("No vote order has that id.", code="order_not_found")
    return order


async def emit(session: AsyncSession, topic: str, **payload: Any) -> None:
    await session.execute(insert(OutboxMessage).values(topic=topic, payload=payload))
