"""The order tables as Core statements use them, and what every step of an order's life shares: reading one
order, turning a Core row into a `VoteOrder`, the guard of a statement that moves a pending order."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    bindparam,
    select,
)
from sqlalchemy.engine import Row

from gateway.core.errors import NotFound
from gateway.db.engine import Sessions, autocommit
from gateway.db.loaded import as_loaded
from gateway.db.models import (
    Candidate,
    Contest,
    OrderStatus,
    VoteOrder,
)

CONTESTS, CANDIDATES, ORDERS_TABLE = Contest.__table__, Candidate.__table__, VoteOrder.__table__
ORDER_BY_ID = select(ORDERS_TABLE).where(ORDERS_TABLE.c.id == bindparam("order_key"))


def still_pending(status: Any = ORDERS_TABLE.c.status) -> ColumnElement[bool]:
    """The guard of a statement that moves one order (found by its key) out of `pending`.

    Written `IS NOT DISTINCT FROM` (the same, for a column that is never NULL) rather than `=`: from `=`
    PostgreSQL proves that the partial index of pending orders (kept for the sweeper) holds the row, and a plan made
    for the values at hand scans that whole index for the one order when its size, last counted, was small. On a show
    night that index fills with the entries of orders paid since the last vacuum, so the scan grows, and those
    custom plans, dearer to make than the statement to run, end up made for every vote on a long-lived connection.
    With the key the only way in, the plan for any values is the plan for these ones, and it is made once."""
    guard: ColumnElement[bool] = status.is_not_distinct_from(OrderStatus.PENDING)
    return guard


def detached_order(row: Row[Any]) -> VoteOrder:
    """A `VoteOrder` from a Core row of every column (attached to no session: read it, do not change it)."""
    return order_of(row._mapping)


def order_of(columns: Mapping[Any, Any]) -> VoteOrder:
    """A `VoteOrder` from every column by name, typed (a Core row's mapping, or `DriverStatement.typed`), attached
    to no session (`gateway.db.loaded`)."""
    return as_loaded(VoteOrder, columns)


async def get_order(sessions: Sessions, order_id: uuid.UUID) -> VoteOrder:
    async with autocommit(sessions) as session:
        order = await session.get(VoteOrder, order_id)
    if order is None:
        raise NotFound("No vote order has that id.", code="order_not_found")
    return order

