"""The whole service's figures over the last minutes, for the control room: read from PostgreSQL, the truth, so the
page needs no Prometheus. Votes a second by channel and by provider over the window, votes a minute for the
last quarter hour, money taken and refunds, holds waiting, the verification and outbox backlogs, open contests and
those on air. A few grouped counts bounded by the window's orders; the vote path never waits on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.money_in.verification.by_status import backlog as verification_backlog
from gateway.core.oversight.dashboard import MONEY_MOVED
from gateway.db.engine import Sessions
from gateway.db.models import Contest, ContestStatus, OrderStatus, OutboxMessage, Refund, VoteOrder

WINDOW_SECONDS = 300  # votes a second and money in: over the last five minutes
MINUTES = 15  # votes a minute: the last quarter hour
NO_VOTES_SECONDS = 600  # "no votes arriving": no order placed for ten minutes (the alert rule's window)
PAID_SECONDS = 120  # orders paid by provider: over the window of the rule that compares them (callbacks lost)
# A provider's decided orders, and those it declined: over the last 2 minutes, and over the hour before them.
DECIDED_SECONDS = (120, 3600)
# Orders decided in the window are looked for among those created in the last two hours: the BRIN index on
# `created_at` then reads those pages only, not the whole table (a payment is decided within minutes of its
# order; one decided hours later, a person's review, is left out of the rates, never out of the totals elsewhere).
CREATED_WITHIN = timedelta(hours=2)


@dataclass(frozen=True)
class ServiceFigures:
    at: datetime
    window_seconds: int
    votes_by_channel: dict[str, int]  # paid votes decided within the window
    votes_by_provider: dict[str, int]
    votes_by_minute: list[tuple[str, int]]  # ("HH:MM", paid votes decided that minute), oldest first
    money_in: dict[str, int]  # currency -> minor units moved within the window
    refunds: dict[str, tuple[int, int]]  # state -> (refunds, minor units), every currency together
    held_orders: int
    held_votes: int
    verification_backlog: int
    verification_oldest_seconds: float | None
    outbox_backlog: int
    outbox_oldest_seconds: float | None
    open_contests: int
    contests_on_air: int  # open and inside their voting window (`on_air`)
    orders_placed_recently: int  # orders placed within NO_VOTES_SECONDS, whatever became of them
    pending_orders: int
    paid_recently: dict[str, int] = field(default_factory=dict)  # provider -> orders paid within PAID_SECONDS
    # contest slug -> seconds on air without an order (`gateway.core.oversight.contest_silence`, read beside these)
    contest_silences: dict[str, float] = field(default_factory=dict)
    # provider -> (declined, decided) within DECIDED_SECONDS[0], and (declined, decided) over the hour before it
    decisions: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)

    @property
    def votes(self) -> int:
        return sum(self.votes_by_channel.values())

    def per_second(self, votes: int) -> float:
        return votes / self.window_seconds


def on_air(now: Any) -> ColumnElement[bool]:
    """A contest on air, as an operator means it: open and inside its voting window (`rules.voting_state`'s OPEN,
    in SQL). One opened before its opening time, or left open past its close, takes no vote, so silence from its
    voters is no alarm; the alerts and the control room expect votes from these only."""
    return and_(Contest.status == ContestStatus.OPEN, Contest.opens_at <= now, Contest.closes_at > now)


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max((now - then).total_seconds(), 0.0)


async def decisions(session: AsyncSession, now: datetime, recent_seconds: float, before_seconds: float
                    ) -> dict[str, tuple[int, int, int, int]]:
    """Each provider's orders declined (failed) and decided (neither pending nor expired: an expiry is our clock's
    word, not the provider's) within the last `recent_seconds`, then within the `before_seconds` before them."""
    split = now - timedelta(seconds=recent_seconds)
    declined, recent = VoteOrder.status == OrderStatus.FAILED, VoteOrder.decided_at >= split
    rows = await session.execute(
        select(VoteOrder.provider, func.count().filter(recent, declined), func.count().filter(recent),
               func.count().filter(~recent, declined), func.count().filter(~recent))
        .where(VoteOrder.decided_at >= split - timedelta(seconds=before_seconds), VoteOrder.decided_at <= now,
               VoteOrder.status.not_in((OrderStatus.PENDING, OrderStatus.EXPIRED)),
               VoteOrder.created_at >= split - timedelta(seconds=before_seconds) - CREATED_WITHIN)
        .group_by(VoteOrder.provider))
    return {str(p): (int(a), int(b), int(c), int(d)) for p, a, b, c, d in rows.all()}


async def service_figures(sessions: Sessions, window_seconds: int = WINDOW_SECONDS,
                          silence_seconds: float = NO_VOTES_SECONDS, paid_seconds: float = PAID_SECONDS,
                          decided_seconds: tuple[float, float] = DECIDED_SECONDS) -> ServiceFigures:
    """The figures now; `silence_seconds`, `paid_seconds` and `decided_seconds`: the windows of the orders placed,
    paid and decided by provider (the alert rules' own, which the control room passes)."""
    async with sessions() as session:
        now = await session.scalar(select(func.now()))
        assert now is not None
        since = now - timedelta(seconds=window_seconds)
        recent = VoteOrder.created_at >= now - CREATED_WITHIN
        paid_recently = (VoteOrder.status == OrderStatus.PAID, VoteOrder.decided_at >= since,
                         VoteOrder.candidate_id.is_not(None), recent)

        async def votes_by(key: object) -> dict[str, int]:
            rows = await session.execute(select(key, func.sum(VoteOrder.quantity))  # type: ignore[call-overload]
                                         .where(*paid_recently).group_by(key))
            return {str(k): int(v) for k, v in rows.all()}

        minute = func.date_trunc("minute", VoteOrder.decided_at)
        first_minute = now.replace(second=0, microsecond=0) - timedelta(minutes=MINUTES - 1)
        per_minute: dict[datetime, int] = dict((await session.execute(
            select(minute, func.sum(VoteOrder.quantity))
            .where(VoteOrder.status == OrderStatus.PAID, VoteOrder.decided_at >= first_minute,
                   VoteOrder.candidate_id.is_not(None), recent).group_by(minute))).all())
        minutes = [first_minute + timedelta(minutes=i) for i in range(MINUTES)]
        money = await session.execute(
            select(VoteOrder.currency, func.sum(VoteOrder.amount))
            .where(VoteOrder.status.in_(MONEY_MOVED), VoteOrder.decided_at >= since, recent)
            .group_by(VoteOrder.currency))
        refunds = await session.execute(select(cast(Refund.state, String), func.count(), func.sum(Refund.amount))
                                        .group_by(Refund.state))
        statuses = dict((await session.execute(
            select(VoteOrder.status, func.count()).where(VoteOrder.status.in_((OrderStatus.HELD, OrderStatus.PENDING)))
            .group_by(VoteOrder.status))).all())
        held_votes = await session.scalar(select(func.coalesce(func.sum(VoteOrder.quantity), 0))
                                          .where(VoteOrder.status == OrderStatus.HELD))
        waiting, oldest_verification = await verification_backlog(session)
        outbox = (await session.execute(select(func.count(), func.min(OutboxMessage.created_at))
                                        .where(OutboxMessage.enqueued_at.is_(None)))).one()
        open_contests, contests_on_air = (await session.execute(
            select(func.count(), func.count().filter(on_air(now))).where(Contest.status == ContestStatus.OPEN))).one()
        placed = await session.scalar(select(func.count()).where(
            VoteOrder.created_at >= now - timedelta(seconds=silence_seconds)))
        paid = await session.execute(select(VoteOrder.provider, func.count()).where(
            VoteOrder.status == OrderStatus.PAID, VoteOrder.decided_at >= now - timedelta(seconds=paid_seconds), recent)
            .group_by(VoteOrder.provider))
        return ServiceFigures(
            at=now, window_seconds=window_seconds,
            votes_by_channel=await votes_by(VoteOrder.channel), votes_by_provider=await votes_by(VoteOrder.provider),
            votes_by_minute=[(m.strftime("%H:%M"), int(per_minute.get(m, 0))) for m in minutes],
            money_in={str(c): int(a) for c, a in money.all()},
            refunds={str(s): (int(n), int(a or 0)) for s, n, a in refunds.all()},
            held_orders=int(statuses.get(OrderStatus.HELD, 0)), held_votes=int(held_votes or 0),
            verification_backlog=waiting, verification_oldest_seconds=_age(now, oldest_verification),
            outbox_backlog=int(outbox[0]), outbox_oldest_seconds=_age(now, outbox[1]),
            open_contests=int(open_contests), contests_on_air=int(contests_on_air),
            orders_placed_recently=int(placed or 0),
            pending_orders=int(statuses.get(OrderStatus.PENDING, 0)),
            paid_recently={str(p): int(n) for p, n in paid.all()},
            decisions=await decisions(session, now, *decided_seconds))
