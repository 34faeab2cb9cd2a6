"""The figures read when `/metrics` is scraped. From PostgreSQL (at most every `ORDER_COUNT_SECONDS` per process,
`assembly.web.metrics`): orders and votes by channel, provider and status, contests by status and those on air, each
contest on air's silence (`gateway.core.oversight.contest_silence`), the outbox not yet relayed, the refunds and
payouts by state, and the callback verification's backlog. A few grouped counts on small tables or partial indexes,
and the last hour's orders; the vote path itself never waits on a metric. From Redis: the RQ
queues' depths, the periodic passes' ages, what the reconciler found paid.

They are the same whichever process reads them, so `ReadAtScrape` serves them as the answering process read
them, beside the measured figures, never through the files the processes share them by
(`assembly.machine.shared_metrics`): there, a sum would count them once per process, and a label set gone (orders
purged, Redis away) could not be taken out (prometheus_client removes no label set from those files)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import String, cast, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.oversight.contest_silence import SILENCE_HORIZON, contest_silences
from gateway.core.oversight.control_room import on_air
from gateway.db.models import (
    Contest,
    ContestStatus,
    OrderStatus,
    OutboxMessage,
    Payout,
    PayoutState,
    Refund,
    RefundState,
    VoteOrder,
)

SILENCE_HORIZON_SECONDS = int(SILENCE_HORIZON.total_seconds())


@dataclass
class ScrapeFigures:
    # (channel, provider, status) -> (orders, votes)
    orders: dict[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)
    contests: dict[str, int] = field(default_factory=dict)  # status -> contests
    contests_on_air: int = 0  # open and inside their voting window
    contest_silences: dict[str, float] = field(default_factory=dict)  # slug -> seconds without an order, on air
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
    now = await session.scalar(select(func.now()))  # the clock that stamps the orders
    assert now is not None
    figures.contest_silences = await contest_silences(session, now)
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


class ReadAtScrape(Collector):
    """The figures last read, as gauges (their names and labels as `/metrics` has always shown them)."""

    def __init__(self) -> None:
        self.figures = ScrapeFigures()
        self.outbox_oldest_age = 0.0  # ages as of the reading, which may serve a few scrapes
        self.verification_waiting = 0
        self.verification_oldest_age = 0.0
        self.queue_depths: dict[str, int] = {}
        self.pass_ages: dict[str, float] = {}  # a pass with no known age has no sample, rather than a stale one
        self.found_paid: dict[str, int] = {}  # Redis away: none rather than stale ones
        self.redis_answered = True  # whether Redis answered the last scrape's reads in time

    def collect(self) -> Iterator[Metric]:
        yield from self._orders()
        figures = self.figures
        yield gauge("gateway_contests", "Contests by status", ["status"],
                    (((s.value,), figures.contests.get(s.value, 0)) for s in ContestStatus))
        # What the show's alerts expect votes from: an open contest before its opening time or past its close
        # takes none, and its silence pages nobody.
        yield gauge("gateway_contests_on_air", "Contests open and inside their voting window (opening time "
                    "passed, closing time not yet)", [], [((), figures.contests_on_air)])
        # Per contest: one contest's votes say nothing about another's (NoVotesArriving pages per contest).
        yield gauge("gateway_contest_silence_seconds", "Seconds since the later of the contest's last order (any "
                    "status, any channel) and its opening time, for each contest on air (at most "
                    f"{SILENCE_HORIZON_SECONDS})", ["contest"],
                    (((slug,), seconds) for slug, seconds in figures.contest_silences.items()))
        yield gauge("gateway_outbox_backlog", "Outbox rows committed and not yet relayed", [],
                    [((), figures.outbox_waiting)])
        yield gauge("gateway_outbox_oldest_age_seconds", "Seconds the oldest outbox row not yet relayed has "
                    "waited (0: none)", [], [((), self.outbox_oldest_age)])
        yield from self._money_out()
        # Callback verification: orders counted on a callback's word, not yet checked with a status call.
        yield gauge("gateway_verification_backlog", "Callback-counted orders awaiting their status check", [],
                    [((), self.verification_waiting)])
        yield gauge("gateway_verification_oldest_age_seconds", "Seconds the oldest callback-counted order has "
                    "awaited its status check (0: none)", [], [((), self.verification_oldest_age)])
        yield from self._redis_figures()

    def _orders(self) -> Iterator[Metric]:
        by_status: dict[str, int] = {}
        for (_, _, status), (orders, _) in self.figures.orders.items():
            by_status[status] = by_status.get(status, 0) + orders
        yield gauge("gateway_orders", "Vote orders by status", ["status"],
                    (((s.value,), by_status.get(s.value, 0)) for s in OrderStatus))
        yield gauge("gateway_vote_orders", "Vote orders by channel, provider and status",
                    ["channel", "provider", "status"], ((key, n) for key, (n, _) in self.figures.orders.items()))
        yield gauge("gateway_votes", "Votes (orders' quantities) by channel, provider and status",
                    ["channel", "provider", "status"], ((key, v) for key, (_, v) in self.figures.orders.items()))

    def _money_out(self) -> Iterator[Metric]:
        counts: dict[tuple[str, str], int] = {}
        for (kind, state, _), (count, _) in self.figures.money_out.items():
            counts[(kind, state)] = counts.get((kind, state), 0) + count
        states = [(kind, state.value) for kind, kinds in (("refund", RefundState), ("payout", PayoutState))
                  for state in kinds]
        yield gauge("gateway_money_out", "Refunds and payouts by state", ["kind", "state"],
                    ((key, counts.get(key, 0)) for key in states))
        yield gauge("gateway_money_out_amount", "Refunds and payouts by state, in minor units",
                    ["kind", "state", "currency"],
                    ((key, amount) for key, (_, amount) in self.figures.money_out.items()))

    def _redis_figures(self) -> Iterator[Metric]:
        # Read by Prometheus every 5 s, where the Redis exporter's own `redis_up` is read every 15 s and, for a
        # frozen Redis, only after the exporter's scrape times out: RedisDown pages on either.
        yield gauge("gateway_redis_up", "1 if Redis answered this process's reads for /metrics within "
                    "METRICS_REDIS_SECONDS (1 s), 0 if not (down, frozen, unreachable)", [],
                    [((), 1 if self.redis_answered else 0)])
        yield gauge("gateway_queue_depth", "Jobs waiting per RQ queue", ["queue"],
                    (((name,), depth) for name, depth in self.queue_depths.items()))
        # Silence is the alarm: a series absent (never recorded, or Redis away) alerts as a stale one does.
        yield gauge("gateway_periodic_last_pass_age_seconds", "Seconds since the worker's periodic pass last "
                    "completed a run", ["pass"], (((name,), age) for name, age in sorted(self.pass_ages.items())))
        # Kept in Redis by the reconciler (gateway.core.money_in.found_paid): beside the orders paid, the share of a
        # provider's payments whose callback never counted them.
        yield gauge("gateway_reconciler_found_paid", "Orders the reconciler found paid at their provider and "
                    "counted, no callback having done it first (since Redis was last emptied)", ["provider"],
                    (((provider,), orders) for provider, orders in self.found_paid.items()))


def gauge(name: str, documentation: str, labels: list[str],
          samples: Iterable[tuple[tuple[str, ...], float]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for values, value in samples:
        family.add_metric(list(values), value)
    return family


def age_of(oldest: datetime | None) -> float:
    """Seconds since `oldest`, to a tenth (0: nothing waiting)."""
    age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
    return round(max(age, 0.0), 1)
