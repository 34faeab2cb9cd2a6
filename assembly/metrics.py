"""Prometheus metrics: requests, orders, queue depth, payment work, periodic pass ages; one registry per app.
The service-level figures measured as the work happens are `gateway.kit.service_levels`'s, in the same registry;
those read from PostgreSQL at scrape time are `assembly.scrape_figures`'."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from assembly.scrape_figures import ScrapeFigures, read_figures
from gateway.core.payments.verification import backlog as verification_backlog
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import ContestStatus, OrderStatus, PayoutState, RefundState
from gateway.jobs.last_passes import PERIODIC_PASSES

CONTENT_TYPE = CONTENT_TYPE_LATEST
# /metrics counts every order: each process counts them at most this often, whoever asks.
ORDER_COUNT_SECONDS = 5.0


class Metrics:
    def __init__(self) -> None:
        self._orders_counted_at = -ORDER_COUNT_SECONDS
        self._counting = asyncio.Lock()
        self.registry = CollectorRegistry()
        self.requests = Counter("gateway_http_requests", "HTTP requests served",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("gateway_http_request_seconds", "HTTP request latency",
                                 ["route"], registry=self.registry)
        self.orders = Gauge("gateway_orders", "Vote orders by status", ["status"], registry=self.registry)
        self.queue_depth = Gauge("gateway_queue_depth", "Jobs waiting per RQ queue", ["queue"],
                                 registry=self.registry)
        # Climbing on show night: providers (or MTN's status-call cap) are slower than the votes coming in.
        self.payment_work = Gauge("gateway_payment_work", "Phone prompts owed and status checks under way in "
                                  "this web process", ["kind"], registry=self.registry)
        # Silence is the alarm: a series absent (never recorded, or Redis away) alerts as a stale one does.
        self.last_pass_age = Gauge("gateway_periodic_last_pass_age_seconds", "Seconds since the worker's periodic "
                                   "job last completed a pass", ["job"], registry=self.registry)
        # Kept in Redis by the reconciler (gateway.jobs.found_paid): beside the orders paid, the share of a provider's
        # payments whose callback never counted them.
        self.found_paid = Gauge("gateway_reconciler_found_paid", "Orders the reconciler found paid at their "
                                "provider and counted, no callback having done it first (since Redis was last "
                                "emptied)", ["provider"], registry=self.registry)
        # Callback verification: orders counted on a callback's word, not yet checked with a status call.
        self.verification_backlog = Gauge("gateway_verification_backlog", "Callback-counted orders awaiting "
                                          "their status check", registry=self.registry)
        self.verification_oldest_age = Gauge("gateway_verification_oldest_age_seconds", "Seconds the oldest "
                                             "callback-counted order has awaited its status check (0: none)",
                                             registry=self.registry)

        # Scrape-time service-level figures (assembly.scrape_figures): same value in every web process.
        self.vote_orders = Gauge("gateway_vote_orders", "Vote orders by channel, provider and status",
                                 ["channel", "provider", "status"], registry=self.registry)
        self.votes = Gauge("gateway_votes", "Votes (orders' quantities) by channel, provider and status",
                           ["channel", "provider", "status"], registry=self.registry)
        self.contests = Gauge("gateway_contests", "Contests by status", ["status"], registry=self.registry)
        # What the show's alerts expect votes from: an open contest before its opening time or past its close
        # takes none, and its silence pages nobody.
        self.contests_on_air = Gauge("gateway_contests_on_air", "Contests open and inside their voting window "
                                     "(opening time passed, closing time not yet)", registry=self.registry)
        self.outbox_backlog = Gauge("gateway_outbox_backlog", "Outbox rows committed and not yet relayed",
                                    registry=self.registry)
        self.outbox_oldest_age = Gauge("gateway_outbox_oldest_age_seconds", "Seconds the oldest outbox row not yet "
                                       "relayed has waited (0: none)", registry=self.registry)
        self.money_out = Gauge("gateway_money_out", "Refunds and payouts by state", ["kind", "state"],
                               registry=self.registry)
        self.money_out_amount = Gauge("gateway_money_out_amount", "Refunds and payouts by state, in minor units",
                                      ["kind", "state", "currency"], registry=self.registry)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    async def refresh(self, sessions: Sessions, queue_lengths: dict[str, int]) -> None:
        async with self._counting:  # scrapes meanwhile wait for this count rather than start their own
            if time.monotonic() >= self._orders_counted_at + ORDER_COUNT_SECONDS:
                async with autocommit(sessions) as session:
                    figures = await read_figures(session)
                self.note_figures(figures)
                async with autocommit(sessions) as session:  # callback verification
                    waiting, oldest = await verification_backlog(session)
                self.verification_backlog.set(waiting)
                self.verification_oldest_age.set(age_of(oldest))
                self._orders_counted_at = time.monotonic()
        for name, depth in queue_lengths.items():
            self.queue_depth.labels(name).set(depth)

    def note_figures(self, figures: ScrapeFigures) -> None:
        counts: dict[str, int] = {}
        self.vote_orders.clear()  # a combination gone (its orders purged) must not linger at its last value
        self.votes.clear()
        for (channel, provider, status), (orders, votes) in figures.orders.items():
            counts[status] = counts.get(status, 0) + orders
            self.vote_orders.labels(channel, provider, status).set(orders)
            self.votes.labels(channel, provider, status).set(votes)
        for order_status in OrderStatus:
            self.orders.labels(order_status.value).set(counts.get(order_status.value, 0))
        for contest_status in ContestStatus:
            self.contests.labels(contest_status.value).set(figures.contests.get(contest_status.value, 0))
        self.contests_on_air.set(figures.contests_on_air)
        self.outbox_backlog.set(figures.outbox_waiting)
        self.outbox_oldest_age.set(age_of(figures.outbox_oldest))
        money: dict[tuple[str, str], int] = {}
        self.money_out_amount.clear()
        for (kind, state, currency), (count, amount) in figures.money_out.items():
            money[(kind, state)] = money.get((kind, state), 0) + count
            self.money_out_amount.labels(kind, state, currency).set(amount)
        for kind, states in (("refund", RefundState), ("payout", PayoutState)):
            for state in states:
                self.money_out.labels(kind, state.value).set(money.get((kind, state.value), 0))

    def note_payment_work(self, prompts_owed: int, status_checks: int) -> None:
        self.payment_work.labels("prompts_owed").set(prompts_owed)
        self.payment_work.labels("status_checks").set(status_checks)

    def note_pass_ages(self, ages: dict[str, float | None]) -> None:
        """The ages read from Redis; a job with no known age has no sample, rather than a stale one."""
        for job in PERIODIC_PASSES:
            age = ages.get(job)
            if age is None:
                with contextlib.suppress(KeyError):
                    self.last_pass_age.remove(job)
            else:
                self.last_pass_age.labels(job).set(round(age, 1))

    def note_found_paid(self, found: dict[str, int] | None) -> None:
        """The counts read from Redis; None (Redis away) shows none rather than stale ones."""
        self.found_paid.clear()
        for provider, orders in (found or {}).items():
            self.found_paid.labels(provider).set(orders)

    def render(self) -> bytes:
        return generate_latest(self.registry)



def age_of(oldest: datetime | None) -> float:
    """Seconds since `oldest`, to a tenth (0: nothing waiting)."""
    age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
    return round(max(age, 0.0), 1)
