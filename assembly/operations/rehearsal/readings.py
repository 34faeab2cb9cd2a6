"""What the rehearsal reads from the installation's PostgreSQL: where the contest stood when it began, whether its
votes are all decided yet, and at the end, in one snapshot, its orders with their ledger entries, the SMS it sent
and how far the tallies and the ledger moved; then the ledger's own check, as `gateway ledger verify` runs it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.operations.rehearsal.load import Told, Vote
from assembly.operations.rehearsal.outcomes import Order, SmsAnswer
from assembly.operations.rehearsal.verdict import LedgerFinding
from gateway.core.results import ledger
from gateway.db.engine import Sessions


@dataclass(frozen=True)
class Start:
    contest_id: int
    at: datetime  # the database's clock: the rehearsal's orders are made after it (its numbers may have voted before)
    tallies: int  # the contest's votes
    entries: int  # the contest's ledger entries


@dataclass(frozen=True)
class End:
    orders: list[Order]
    sms: dict[str, SmsAnswer]  # by AT's message id
    tallies_moved: int
    ledger_moved: int  # the votes of the ledger entries appended since the start


async def snapshot(session: AsyncSession) -> None:
    """One view of the database for every read of the session: a count commits its order's status, ledger entry
    and tally together, so they agree even while votes go on being decided (read apart, they need not)."""
    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


START = text("""
    SELECT c.id, now(), (SELECT coalesce(sum(t.votes), 0) FROM tallies t WHERE t.contest_id = c.id),
           coalesce((SELECT h.entries FROM ledger_heads h WHERE h.contest_id = c.id), 0)
    FROM contests c WHERE c.slug = :slug""")


async def start(sessions: Sessions, contest: str) -> Start | None:
    async with sessions() as session:
        await snapshot(session)
        row = (await session.execute(START, {"slug": contest})).one_or_none()
    return None if row is None else Start(row[0], row[1], int(row[2]), int(row[3]))


def numbers(votes: list[Vote]) -> list[str]:
    return sorted({vote.msisdn for vote in votes})


def kept_sms(votes: list[Vote]) -> list[str]:
    return [vote.said for vote in votes if vote.told is Told.KEPT]


UNDECIDED = text("""
    SELECT (SELECT count(*) FROM vote_orders WHERE voter_msisdn = ANY(:numbers) AND created_at >= :since
                                              AND status = 'pending'),
           (SELECT count(*) FROM sms_inbound WHERE at_id = ANY(:kept) AND handled_at IS NOT NULL)""")


async def undecided(sessions: Sessions, votes: list[Vote], began: Start) -> int:
    """The rehearsal's orders still pending and the SMS it sent not answered yet (a worker answers them)."""
    kept = kept_sms(votes)
    async with sessions() as session:
        pending, answered = (await session.execute(UNDECIDED, {"numbers": numbers(votes), "since": began.at,
                                                               "kept": kept})).one()
    return int(pending) + len(kept) - int(answered)


ORDERS = text("""
    SELECT o.id, o.voter_msisdn, o.status::text, o.quantity,
           coalesce((SELECT sum(e.quantity) FROM ledger_entries e WHERE e.order_id = o.id), 0),
           extract(epoch FROM o.decided_at)::float8,
           (SELECT extract(epoch FROM min(e.received_at))::float8 FROM provider_events e WHERE e.order_id = o.id)
    FROM vote_orders o WHERE o.voter_msisdn = ANY(:numbers) AND o.created_at >= :since""")
SMS = text("""
    SELECT at_id, CASE WHEN handled_at IS NOT NULL THEN coalesce(outcome, 'handled') END, order_id,
           extract(epoch FROM handled_at - received_at)::float8
    FROM sms_inbound WHERE at_id = ANY(:kept)""")
MOVED = text("""
    SELECT (SELECT coalesce(sum(votes), 0) FROM tallies WHERE contest_id = :contest),
           (SELECT coalesce(sum(quantity), 0) FROM ledger_entries WHERE contest_id = :contest AND seq > :entries)""")


async def end(sessions: Sessions, votes: list[Vote], began: Start) -> End:
    async with sessions() as session:
        await snapshot(session)
        orders = [Order(row[0], row[1], row[2], row[3], int(row[4]), row[5], row[6]) for row in await session.execute(
            ORDERS, {"numbers": numbers(votes), "since": began.at})]
        kept = kept_sms(votes)
        sms = ({row[0]: SmsAnswer(row[1], row[2], row[3]) for row in await session.execute(SMS, {"kept": kept})}
               if kept else {})
        tallies, moved = (await session.execute(MOVED, {"contest": began.contest_id, "entries": began.entries})).one()
    return End(orders, sms, int(tallies) - began.tallies, int(moved))


async def ledger_finding(sessions: Sessions, contest_id: int) -> LedgerFinding:
    """The core's own check (what `gateway ledger verify` prints): the hash chain whole, the tallies table and every
    order's state as the chain counts them."""
    report = await ledger.verify(sessions, contest_id)
    broken = [] if report.broken is None else [
        f"first broken entry {report.broken.seq} ({report.broken.reason}); the {report.entries} before it are whole"]
    return LedgerFinding(report.entries, report.head.hex(), (*broken, *report.problems))

