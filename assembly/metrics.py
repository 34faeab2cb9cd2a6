"""Prometheus metrics: requests, orders, queue depth, payment work, periodic pass ages; one registry per app."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from gateway.core.payments.verification import backlog as verification_backlog
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import OrderStatus, VoteOrder
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
        # Callback verification: orders counted on a callback's word, not yet checked with a status call.
        self.verification_backlog = Gauge("gateway_verification_backlog", "Callback-counted orders awaiting "
                                          "their status check", registry=self.registry)
        self.verification_oldest_age = Gauge("gateway_verification_oldest_age_seconds", "Seconds the oldest "
                                             "callback-counted order has awaited its status check (0: none)",
                                             registry=self.registry)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    async def refresh(self, sessions: Sessions, queue_lengths: dict[str, int]) -> None:
        async with self._counting:  # scrapes meanwhile wait for this count rather than start their own
            if time.monotonic() >= self._orders_counted_at + ORDER_COUNT_SECONDS:
                async with autocommit(sessions) as session:
                    rows = (await session.execute(
                        select(VoteOrder.status, func.count()).group_by(VoteOrder.status)
                    )).all()
                counts = {status: count for status, count in rows}
                for status in OrderStatus:
                    self.orders.labels(status.value).set(counts.get(status, 0))
                async with autocommit(sessions) as session:  # callback verification
                    waiting, oldest = await verification_backlog(session)
                self.verification_backlog.set(waiting)
                age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
                self.verification_oldest_age.set(round(max(age, 0.0), 1))
                self._orders_counted_at = time.monotonic()
        for name, depth in queue_lengths.items():
            self.queue_depth.labels(name).set(depth)

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

    def render(self) -> bytes:
        return generate_latest(self.registry)

