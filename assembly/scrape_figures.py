"""The service-level figures read from PostgreSQL when `/metrics` is scraped (at most every
`ORDER_COUNT_SECONDS` per process, `assembly.metrics`): orders and votes by channel, provider and status,
contests by status and those on air, the outbox not yet relayed, and the refunds and payouts by state. A few
grouped counts on small tables or partial indexes; the vote path itself never waits on a metric."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import String, cast, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.oversight.control_room import on_air
from gateway.db.models import Contest, OutboxMessage, Payout, Refund, VoteOrder


@dataclass
class ScrapeFigures:
    # (channel, provider, status) -> (orders, votes)
    orders: dict[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)
    contests: dict[str, int] = field(default_factory=dict)  # status -> contests
    contests_on_air: int = 0  # open and inside their voting window
    outbox_waiting: int = 0
    outbox_oldest: datetime | None = None
    # (kind, state, currency) -> (count, amount in minor units)
    money_out: dict[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)


async def read_figures(session: AsyncSession) -> ScrapeFigures:
    figures = ScrapeFigures()
    orders = await session.execute(
        select(VoteOrder.channel, VoteOrder.provider, VoteOrder.status, func.count(), func.sum(VoteOrder.quantity))
        .group_by(VoteOrder.channel, VoteOrder.provider, VoteOrder.status))
    for channel, provider, status, count, votes in orders.all():
        figures.orders[(channel, provider, str(status))] = (count, int(votes or 0))
    contests = await session.execute(select(Contest.status, func.count(), func.count().filter(on_air(func.now())))
                                     .group_by(Contest.status))
    for contest_status, count, airing in contests.all():
        figures.contests[str(contest_status)] = count
        figures.contests_on_air += airing
    # The partial index `ix_outbox_unenqueued` holds exactly these rows.
    waiting = (await session.execute(select(func.count(), func.min(OutboxMessage.created_at))
                                     .where(OutboxMessage.enqueued_at.is_(None)))).one()
    figures.outbox_waiting, figures.outbox_oldest = waiting[0], waiting[1]
    money_out = union_all(
        select(literal("refund"), cast(Refund.state, String), Refund.currency, func.count(), func.sum(Refund.amount))
        .group_by(Refund.state, Refund.currency),
        select(literal("payout"), cast(Payout.state, String), Payout.currency, func.count(), func.sum(Payout.amount))
        .group_by(Payout.state, Payout.currency))
    for kind, state, currency, count, amount in (await session.execute(money_out)).all():
        figures.money_out[(kind, str(state), currency)] = (count, int(amount or 0))
    return figures
