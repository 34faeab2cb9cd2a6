"""Exports of a contest over a period: orders, tallies, the audit log, and the money that went out (payouts to the
organiser, refunds sent by a provider's API, each with our reference and the provider's transaction id), streamed
row by row.

Rows come from a server-side cursor (`session.stream` with `yield_per`), so a million orders never sit in
memory at once. Each export is audited (who, what, period) in its own transaction before the first row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Executable, case, cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import UUID

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.contests.contests_admin import contest_detail
from gateway.core.errors import DomainError, Forbidden
from gateway.core.money import UnknownCurrency, to_major_string
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Candidate, Payout, Refund, Tally, VoteOrder

KINDS = ("orders", "tallies", "audit", "payouts", "refunds")
FORMATS = ("csv", "xlsx")
EXPORT_ROLES = ("owner", "auditor")
BATCH = 2000


@dataclass(frozen=True)
class Period:
    """Rows created at or after `start` and before `end` (either open)."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class Export:
    header: Sequence[str]
    rows: AsyncIterator[Sequence[Any]]


def parse_moment(value: str | None, field: str) -> datetime | None:
    """An ISO date or date-time (UTC when no offset is given); a date alone means its midnight."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value) if "T" in value else datetime.combine(date.fromisoformat(value), time())
    except ValueError:
        raise DomainError(f"{field} must be an ISO date such as 2026-11-23 or 2026-11-23T18:00:00Z.",
                          code="invalid_period", field=field) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_period(start: str | None, end: str | None) -> Period:
    period = Period(parse_moment(start, "from"), parse_moment(end, "to"))
    if period.start and period.end and period.end <= period.start:
        raise DomainError("to must come after from.", code="invalid_period", field="to")
    return period


def _within(column: Any, period: Period) -> list[Any]:
    return [c for c in (column >= period.start if period.start else None,
                        column < period.end if period.end else None) if c is not None]


ENTRY_FEE = "entry fee"  # the candidate column of an entry's fee: money in, no vote (codes are digits)


def orders_query(contest_id: int, period: Period) -> Executable:
    votes = case((VoteOrder.entry_id.is_not(None), literal(0)), else_=VoteOrder.quantity)
    return (select(VoteOrder.id, VoteOrder.payment_reference, VoteOrder.created_at, VoteOrder.decided_at,
                   VoteOrder.status, func.coalesce(Candidate.code, literal(ENTRY_FEE)), votes, VoteOrder.amount,
                   VoteOrder.currency, VoteOrder.channel, VoteOrder.provider, VoteOrder.provider_txn_id,
                   VoteOrder.voter_msisdn, VoteOrder.status_reason)
            .outerjoin(Candidate, Candidate.id == VoteOrder.candidate_id)
            .where(VoteOrder.contest_id == contest_id, *_within(VoteOrder.created_at, period))
            .order_by(VoteOrder.created_at, VoteOrder.id))


ORDER_HEADER = ("order_id", "payment_reference", "created_at", "decided_at", "status", "candidate", "quantity",
                "amount", "currency", "amount_major", "channel", "provider", "provider_txn_id", "voter_msisdn",
                "status_reason")


def tallies_query(contest_id: int) -> Executable:
    """The tallies now (a tally has no history; the period applies to orders and the audit log), the candidates
    in the order the organiser set for them."""
    return (select(Candidate.code, Candidate.name, func.coalesce(Tally.votes, 0))
            .outerjoin(Tally, Tally.candidate_id == Candidate.id)
            .where(Candidate.contest_id == contest_id).order_by(Candidate.position, Candidate.code))


def audit_query(contest_id: int, period: Period) -> Executable:
    candidates = select(func.concat("candidate:", Candidate.id)).where(Candidate.contest_id == contest_id)
    order_ids = select(VoteOrder.id).where(VoteOrder.contest_id == contest_id)
    is_order = AuditEntry.target.startswith("order:")
    order_target = cast(func.substr(AuditEntry.target, 7), UUID(as_uuid=True))
    return (select(AuditEntry.id, AuditEntry.created_at, AuditEntry.actor, AuditEntry.address, AuditEntry.action,
                   AuditEntry.target, AuditEntry.details, AuditEntry.before, AuditEntry.after)
            .where(or_(AuditEntry.target == f"contest:{contest_id}", AuditEntry.target.in_(candidates),
                       is_order & (func.length(AuditEntry.target) == 42) & order_target.in_(order_ids)),
                   *_within(AuditEntry.created_at, period))
            .order_by(AuditEntry.id))


AUDIT_HEADER = ("id", "at", "actor", "address", "action", "target", "details", "before", "after")


def payouts_query(contest_id: int, period: Period) -> Executable:
    return (select(Payout.id, Payout.created_at, Payout.decided_at, Payout.state, Payout.amount, Payout.currency,
                   Payout.kind, Payout.msisdn, Payout.holder, Payout.provider_txn_id, Payout.provider_reason,
                   Payout.proof, Payout.requested_by, Payout.approved_by)
            .where(Payout.contest_id == contest_id, *_within(Payout.created_at, period))
            .order_by(Payout.created_at, Payout.id))


PAYOUT_HEADER = ("reference", "requested_at", "decided_at", "state", "amount", "currency", "amount_major", "kind",
                 "msisdn", "holder", "provider_txn_id", "provider_reason", "proof", "requested_by", "approved_by")


def refunds_query(contest_id: int, period: Period) -> Executable:
    return (select(Refund.id, Refund.order_id, Refund.created_at, Refund.decided_at, Refund.state, Refund.amount,
                   Refund.currency, Refund.provider, Refund.provider_txn_id, Refund.provider_reason, Refund.reason)
            .join(VoteOrder, VoteOrder.id == Refund.order_id)
            .where(VoteOrder.contest_id == contest_id, *_within(Refund.created_at, period))
            .order_by(Refund.created_at, Refund.id))


REFUND_HEADER = ("reference", "order_id", "requested_at", "decided_at", "state", "amount", "currency", "amount_major",
                 "provider", "provider_txn_id", "provider_reason", "reason")


async def with_major(rows: AsyncIterator[Sequence[Any]], header: Sequence[str]) -> AsyncIterator[Sequence[Any]]:
    """Each row with its amount in major units beside its minor units and currency ("50.00" for 5000 KES cents): a
    spreadsheet reads the money, a program still sums the minor units."""
    amount, currency = header.index("amount"), header.index("currency")
    async for row in rows:
        yield (*row[:currency + 1], major_of(row[amount], row[currency]), *row[currency + 1:])


def major_of(amount: int | None, currency: str | None) -> str:
    if amount is None or not currency:
        return ""
    try:
        return to_major_string(amount, currency)
    except UnknownCurrency:
        return str(amount)


async def _stream(sessions: Sessions, query: Executable) -> AsyncIterator[Sequence[Any]]:
    async with sessions() as session:
        result = await session.stream(query.execution_options(yield_per=BATCH))
        async for partition in result.partitions():
            for row in partition:
                yield tuple(row)


async def start_export(sessions: Sessions, actor: Actor, contest_id: int, kind: str, fmt: str,
                       period: Period) -> Export:
    """Check the actor may export this contest, audit the export, and return its rows (not yet read)."""
    if actor.role not in EXPORT_ROLES:
        raise Forbidden(f"The {actor.role} role may not export.", code="forbidden")
    if kind not in KINDS or fmt not in FORMATS:
        raise DomainError(f"Exports are {', '.join(KINDS)} as {' or '.join(FORMATS)}.", code="invalid_export")
    await contest_detail(sessions, actor, contest_id)  # NotFound for a missing contest
    async with sessions.begin() as session:
        await audit.record(session, actor, f"export.{kind}", f"contest:{contest_id}", details={
            "format": fmt, "from": period.start.isoformat() if period.start else None,
            "to": period.end.isoformat() if period.end else None})
    if kind == "orders":
        return Export(ORDER_HEADER, with_major(_stream(sessions, orders_query(contest_id, period)), ORDER_HEADER))
    if kind == "tallies":
        return Export(("candidate", "name", "votes"), _stream(sessions, tallies_query(contest_id)))
    if kind == "payouts":
        return Export(PAYOUT_HEADER, with_major(_stream(sessions, payouts_query(contest_id, period)), PAYOUT_HEADER))
    if kind == "refunds":
        return Export(REFUND_HEADER, with_major(_stream(sessions, refunds_query(contest_id, period)), REFUND_HEADER))
    return Export(AUDIT_HEADER, _stream(sessions, audit_query(contest_id, period)))
