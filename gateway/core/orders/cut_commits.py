"""An order whose insert a failover cut: found again where it is durable, else placed again under the same id.

When the primary goes away during the insert's COMMIT, the voter's client cannot be told either way yet: the
commit may have reached the synchronous standby that Patroni promotes (the order exists), or not (the old primary's
local copy is rewound away when it rejoins). The order's id is made before the first attempt, so the question has an
answer: once a primary takes statements again, is an order with this id there, durably? If so it is the voter's
order (counted once, as any); if not, the insert is made again under the same id, which no double can pass (the
primary key), and an insert that runs into it means the first one landed after all.

"Durably": a read on a primary that has just been cut off (or paused, or is being demoted) may see a row that is on
no other node; the read's own transaction therefore writes a WAL record (a transactional logical message, which
any role may emit) so that its COMMIT waits for the synchronous standby like a vote's: when it returns, what it read
is on two nodes. A node that is no longer primary refuses it (read-only), and the lookup waits for the next one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select

from gateway.core.orders.tables import CANDIDATES, CONTESTS, ORDERS_TABLE, detached_order
from gateway.db.driver_statements import driver_transaction
from gateway.db.engine import Sessions, autocommit_connection
from gateway.db.models import VoteOrder

SYNCED = select(func.pg_logical_emit_message(True, "ballot", "durable read"))
ORDER_AND_NAMES = (
    select(ORDERS_TABLE, CONTESTS.c.name.label("contest_name_"), CANDIDATES.c.name.label("candidate_name_"))
    .join(CONTESTS, CONTESTS.c.id == ORDERS_TABLE.c.contest_id)
    .outerjoin(CANDIDATES, CANDIDATES.c.id == ORDERS_TABLE.c.candidate_id))


@dataclass(frozen=True)
class OrderIdentity:
    """What an order is known by before it is written: its id and the reference its provider is given."""

    id: uuid.UUID
    payment_reference: uuid.UUID

    @classmethod
    def new(cls) -> OrderIdentity:
        return cls(uuid.uuid4(), uuid.uuid4())


@dataclass(frozen=True)
class FoundOrder:
    order: VoteOrder
    contest_name: str
    candidate_name: str | None


async def durable_order(sessions: Sessions, order_id: uuid.UUID) -> FoundOrder | None:
    """The order with this id if the current primary has it on its synchronous standby too; None if it has not got
    it at all. Raises what a lost primary raises (gateway.db.failover) while there is none."""
    async with autocommit_connection(sessions) as connection, driver_transaction(connection):
        await connection.execute(SYNCED)
        row = (await connection.execute(ORDER_AND_NAMES.where(ORDERS_TABLE.c.id == order_id))).first()
    if row is None:
        return None
    return FoundOrder(detached_order(row), row.contest_name_, row.candidate_name_)
