"""A contest's dashboard figures, each one SQL aggregation over the truth in PostgreSQL.

Paid orders make the votes and the revenue; every other state is shown as what it is (pending and its age,
held, failed with its reasons), and the invariant per candidate (tally = sum of its paid orders'
quantities) is computed here so the page can show any difference in red.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.audit import Actor
from gateway.core.channel_reports import FailedMessages
from gateway.core.contests.contests_admin import contest_detail
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, Contest, OrderStatus, OutboxMessage, PaymentVerification, Tally, VoteOrder

# Money moved for these (the payment succeeded), whether or not the votes count now.
MONEY_MOVED = (OrderStatus.PAID, OrderStatus.HELD, OrderStatus.FLAGGED, OrderStatus.REFUND_REQUESTED,
               OrderStatus.REFUNDED)
PAYMENT_FAILED = (OrderStatus.FAILED, OrderStatus.EXPIRED)
OUTBOX_STUCK_ATTEMPTS = 3
PENDING_AGE_BUCKETS = (60, 300, 900)  # seconds: <1 min, 1–5 min, 5–15 min, older
TOP_REASONS = 5


@dataclass(frozen=True)
class Share:
    """Votes and revenue (minor units) of one slice of paid orders: an hour, a channel, a provider…"""

    key: str
    votes: int
    revenue: int
    orders: int


@dataclass(frozen=True)
class CandidateCheck:
    candidate_id: int
    code: str
    name: str
    tally: int
    paid_votes: int

    @property
    def difference(self) -> int:
        return self.tally - self.paid_votes


@dataclass(frozen=True)
class Figures:
    contest_id: int
    currency: str
    at: datetime
    by_hour: list[Share]
    by_channel: list[Share]
    by_provider: list[Share]
    by_operator: list[Share]
    status_counts: dict[str, int]
    failure_reasons: list[tuple[str, int]]
    pending_ages: list[tuple[str, int]]
    oldest_pending_seconds: int | None
    verification_backlog: int
    oldest_verification_seconds: int | None
    held_orders: int
    held_votes: int
    stuck_outbox: int
    # Each channel's messages about the contest's orders that failed, by figure (`FailedMessages.figure`).
    failed_messages: dict[str, int] = field(default_factory=dict)
    invariant: list[CandidateCheck] = field(default_factory=list)

    @property
    def payment_success_rate(self) -> float | None:
        """Share of decided payments where money moved; None before any payment was decided."""
        moved = sum(self.status_counts.get(s.value, 0) for s in MONEY_MOVED)
        failed = sum(self.status_counts.get(s.value, 0) for s in PAYMENT_FAILED)
        return moved / (moved + failed) if moved + failed else None

    @property
    def invariant_holds(self) -> bool:
        return all(check.difference == 0 for check in self.invariant)


def operator_case(prefixes: Sequence[tuple[str, str]]) -> Any:
    """The operator of `voter_msisdn` from E.164 prefixes (most specific first); `other`/`none` otherwise."""
    whens = [(VoteOrder.voter_msisdn.startswith(prefix, autoescape=True), literal(name))
             for prefix, name in prefixes]
    return case((VoteOrder.voter_msisdn.is_(None), literal("none")), *whens, else_=literal("other"))


async def _shares(session: AsyncSession, contest_id: int, key: Any) -> list[Share]:
    paid = and_(VoteOrder.contest_id == contest_id, VoteOrder.status == OrderStatus.PAID,
                VoteOrder.candidate_id.is_not(None))  # votes' shares: an entry's fee is none
    rows = await session.execute(
        select(key.label("key"), func.sum(VoteOrder.quantity), func.sum(VoteOrder.amount), func.count())
        .where(paid).group_by(key).order_by(key))
    return [Share(str(k), int(v), int(r), int(n)) for k, v, r, n in rows.all()]


async def _pending(session: AsyncSession, contest_id: int, now: datetime) -> tuple[list[tuple[str, int]], int | None]:
    age = cast(func.extract("epoch", literal(now) - VoteOrder.created_at), Integer)
    bucket = case(*((age < limit, literal(i)) for i, limit in enumerate(PENDING_AGE_BUCKETS)),
                  else_=literal(len(PENDING_AGE_BUCKETS)))
    where = and_(VoteOrder.contest_id == contest_id, VoteOrder.status == OrderStatus.PENDING)
    rows: dict[int, int] = dict((await session.execute(
        select(bucket, func.count()).where(where).group_by(bucket))).all())
    oldest = await session.scalar(select(func.max(age)).where(where))
    labels = ["<1m", "1-5m", "5-15m", ">15m"]
    return [(label, int(rows.get(i, 0))) for i, label in enumerate(labels)], oldest


async def _backlog(session: AsyncSession, contest_id: int, now: datetime) -> tuple[int, int | None]:
    row = (await session.execute(
        select(func.count(), cast(func.extract("epoch", literal(now) - func.min(PaymentVerification.queued_at)),
                                  Integer))
        .join(VoteOrder, VoteOrder.id == PaymentVerification.order_id)
        .where(VoteOrder.contest_id == contest_id, PaymentVerification.verified_at.is_(None)))).one()
    return int(row[0]), row[1]


async def _stuck_outbox(session: AsyncSession, contest_id: int) -> int:
    stuck = await session.scalar(
        select(func.count()).select_from(OutboxMessage)
        .where(OutboxMessage.payload["contest_id"].astext == str(contest_id), OutboxMessage.delivered_at.is_(None),
               OutboxMessage.attempts >= OUTBOX_STUCK_ATTEMPTS))
    return int(stuck or 0)


async def _invariant(session: AsyncSession, contest_id: int) -> list[CandidateCheck]:
    paid = (select(VoteOrder.candidate_id, func.sum(VoteOrder.quantity).label("votes"))
            .where(VoteOrder.contest_id == contest_id, VoteOrder.status == OrderStatus.PAID)
            .group_by(VoteOrder.candidate_id).subquery())
    rows = await session.execute(
        select(Candidate.id, Candidate.code, Candidate.name, func.coalesce(Tally.votes, 0),
               func.coalesce(paid.c.votes, 0))
        .outerjoin(Tally, Tally.candidate_id == Candidate.id).outerjoin(paid, paid.c.candidate_id == Candidate.id)
        .where(Candidate.contest_id == contest_id).order_by(Candidate.code))
    return [CandidateCheck(int(i), str(c), str(n), int(t), int(p)) for i, c, n, t, p in rows.all()]


async def figures(sessions: Sessions, actor: Actor, contest_id: int,
                  operator_prefixes: Sequence[tuple[str, str]] = (),
                  failures: Sequence[FailedMessages] = ()) -> Figures:
    """Every figure of a contest's dashboard, for an actor who may see the contest (else NotFound), with each
    of `failures`' count of the channel's failed messages."""
    contest: Contest = (await contest_detail(sessions, actor, contest_id)).contest
    async with sessions() as session:
        now = (await session.scalar(select(func.now())))
        assert now is not None
        hour = func.to_char(func.date_trunc("hour", VoteOrder.created_at), 'YYYY-MM-DD"T"HH24":00Z"')
        statuses = dict((await session.execute(
            select(VoteOrder.status, func.count()).where(VoteOrder.contest_id == contest_id)
            .group_by(VoteOrder.status))).all())
        reason = func.coalesce(VoteOrder.status_reason, literal("unknown"))
        reasons = (await session.execute(
            select(reason, func.count())
            .where(VoteOrder.contest_id == contest_id, VoteOrder.status.in_(PAYMENT_FAILED))
            .group_by(reason).order_by(func.count().desc(), reason).limit(TOP_REASONS))).all()
        held = (await session.execute(
            select(func.count(), func.coalesce(func.sum(VoteOrder.quantity), 0))
            .where(VoteOrder.contest_id == contest_id, VoteOrder.status == OrderStatus.HELD))).one()
        pending_ages, oldest_pending = await _pending(session, contest_id, now)
        backlog, oldest_verification = await _backlog(session, contest_id, now)
        failed = {report.figure: await report.failed_for_contest(session, contest_id) for report in failures}
        return Figures(
            contest_id=contest_id, currency=contest.currency, at=now,
            by_hour=await _shares(session, contest_id, hour),
            by_channel=await _shares(session, contest_id, VoteOrder.channel),
            by_provider=await _shares(session, contest_id, VoteOrder.provider),
            by_operator=await _shares(session, contest_id, operator_case(operator_prefixes)),
            status_counts={str(getattr(k, "value", k)): int(v) for k, v in statuses.items()},
            failure_reasons=[(str(r), int(n)) for r, n in reasons],
            pending_ages=pending_ages, oldest_pending_seconds=oldest_pending,
            verification_backlog=backlog, oldest_verification_seconds=oldest_verification,
            held_orders=int(held[0]), held_votes=int(held[1]), stuck_outbox=await _stuck_outbox(session, contest_id),
            failed_messages=failed,
            invariant=await _invariant(session, contest_id))
