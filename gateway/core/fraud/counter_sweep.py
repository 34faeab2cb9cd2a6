"""The fraud counters nobody will read again, removed (gateway.core.fraud.fraud_counters): a row whose two buckets are
both out of its window (its figure is 0 for good: a later order starts it afresh), and every counter of a contest
closed more than a day ago (no order will read it). The tables then hold about one row per subject seen within
its window, however long a contest runs. Removed in small batches, each its own transaction, so no vote waits on
a long lock; a row removed while an order counts it is simply made again by that order's upsert."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, cast, delete, func, literal_column, select

from gateway.core.fraud.fraud_counters import COUNTS, MEMBERS, WINDOWS
from gateway.core.fraud.holds import QUICK_COUNTER, quick_payment_seconds
from gateway.db.engine import Sessions
from gateway.db.models import Contest, ContestStatus

BATCH = 5000
CLOSED_FOR = timedelta(days=1)


async def sweep_counters(sessions: Sessions, now: datetime) -> int:
    """Remove what no order will read again; returns how many rows went."""
    epoch, removed = int(now.timestamp()), 0
    closed = select(Contest.id).where(Contest.status == ContestStatus.CLOSED, Contest.closes_at < now - CLOSED_FOR)
    for table in (COUNTS, MEMBERS):
        removed += await _in_batches(sessions, table, table.c.contest_id.in_(closed))
        for name, window in WINDOWS.items():  # the current bucket and the one before are all a window reads
            removed += await _in_batches(sessions, table, (table.c.name == name)
                                         & (table.c.bucket < epoch // window - 1))
    seconds = quick_payment_seconds()
    quick_window_gone = (select(Contest.id).where(Contest.id == COUNTS.c.contest_id,
                                                  COUNTS.c.bucket < cast(func.floor(epoch / seconds), BigInteger) - 1)
                         .exists())
    removed += await _in_batches(sessions, COUNTS, (COUNTS.c.name == QUICK_COUNTER) & quick_window_gone)
    return removed


async def _in_batches(sessions: Sessions, table: Any, stale: Any) -> int:
    ctid: Any = literal_column("ctid")
    removed = 0
    while True:
        async with sessions.begin() as session:
            batch = select(ctid).select_from(table).where(stale).limit(BATCH).scalar_subquery()
            gone = len((await session.execute(delete(table).where(ctid.in_(batch))
                                              .returning(table.c.contest_id))).all())
        removed += gone
        if gone < BATCH:
            return removed
