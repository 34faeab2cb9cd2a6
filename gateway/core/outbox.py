"""The outbox's write side: work to do once a change has committed, queued in the change's own transaction.

A row written here commits or rolls back with the change it follows (an order counted, an entry decided, an
upload received), so no message goes out for a change that never happened and none is lost for one that did.
The relay and its jobs (gateway.jobs.outbox) deliver the rows after the commit; every wing writes them here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import OutboxMessage


async def emit(session: AsyncSession, topic: str, **payload: Any) -> None:
    """Queue `topic` with `payload` (JSON values) in the session's transaction."""
    await session.execute(insert(OutboxMessage).values(topic=topic, payload=payload))
