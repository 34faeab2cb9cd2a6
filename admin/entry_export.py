"""A contest's entries as an export (admin.exports streams it as CSV or XLSX): who entered, when, what was
decided, by whom, why, and the candidate code an approval gave. The number comes masked: the sheet travels
further than the admin area, and an entry is judged by its clip.

The core's exports (gateway.core.oversight.exports) hold orders, tallies and the audit log; this one follows their
rules: owners and auditors, a contest they may see, audited before the first row, read with a server-side
cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Executable, select

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.contests.catalog import mask_msisdn
from gateway.core.contests.contests_admin import contest_detail
from gateway.core.errors import Forbidden
from gateway.core.oversight import exports
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, Entry

HEADER = ("entry_id", "status", "name", "msisdn", "submitted_at", "decided_by", "decided_at", "reason", "candidate")
MSISDN = HEADER.index("msisdn")


def entries_query(contest_id: int, period: exports.Period) -> Executable:
    within = [c for c in (Entry.created_at >= period.start if period.start else None,
                          Entry.created_at < period.end if period.end else None) if c is not None]
    return (select(Entry.id, Entry.status, Entry.name, Entry.msisdn, Entry.created_at, Entry.decided_by,
                   Entry.decided_at, Entry.reason, Candidate.code)
            .outerjoin(Candidate, Candidate.id == Entry.candidate_id)
            .where(Entry.contest_id == contest_id, *within)
            .order_by(Entry.created_at, Entry.id))


async def _rows(sessions: Sessions, query: Executable) -> AsyncIterator[Sequence[Any]]:
    async with sessions() as session:
        result = await session.stream(query.execution_options(yield_per=exports.BATCH))
        async for partition in result.partitions():
            for row in partition:
                cells = list(row)
                cells[MSISDN] = mask_msisdn(cells[MSISDN])
                yield cells


async def start(sessions: Sessions, actor: Actor, contest_id: int, fmt: str, period: exports.Period) -> exports.Export:
    """Check the actor may export this contest, audit the export, and return its rows (not yet read)."""
    if actor.role not in exports.EXPORT_ROLES:
        raise Forbidden(f"The {actor.role} role may not export.", code="forbidden")
    await contest_detail(sessions, actor, contest_id)  # NotFound for a missing contest
    async with sessions.begin() as session:
        await audit.record(session, actor, "export.entries", f"contest:{contest_id}", details={
            "format": fmt, "from": period.start.isoformat() if period.start else None,
            "to": period.end.isoformat() if period.end else None})
    return exports.Export(HEADER, _rows(sessions, entries_query(contest_id, period)))
