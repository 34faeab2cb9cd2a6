"""Prometheus metrics: requests, payment work, and the figures read at scrape time; one registry per app.
The service-level figures measured as the work happens are `gateway.kit.service_levels`'s, in the same registry;
those read from PostgreSQL and Redis at scrape time are `assembly.web.scrape_figures`'. Where a host's processes
share their figures (`assembly.machine.shared_metrics`), a scrape serves the measured ones summed over them all."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from assembly.cpu.accounts import CpuAccounts
from assembly.machine.liveness import REPLACED, REPLACED_HELP, REPLACED_LABELS
from assembly.machine.shared_metrics import render_shared, shared_dir
from assembly.web.scrape_figures import ReadAtScrape, ScrapeFigures, age_of, read_figures
from gateway.core.money_in.verification.by_status import backlog as verification_backlog
from gateway.db.engine import Sessions, autocommit

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
        # Climbing on show night: providers (or MTN's status-call cap) are slower than the votes coming in.
        # Shared: the sum over the host's live web processes.
        self.payment_work = Gauge("gateway_payment_work", "Phone prompts owed and status checks under way in "
                                  "the web processes", ["kind"], registry=self.registry, multiprocess_mode="livesum")
        # Counted by `gateway run`'s supervisor into the host's shared figures (assembly.machine.liveness), which a
        # scrape serves; declared here too, so that its name and type are on every scrape, counted or not.
        Counter(REPLACED, REPLACED_HELP, REPLACED_LABELS, registry=self.registry)
        self.cpu = CpuAccounts(self.registry, "web")  # each part's CPU (assembly/cpu/accounts.py)
        self.read = ReadAtScrape()
        self.registry.register(self.read)

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
                self.read.verification_waiting, self.read.verification_oldest_age = waiting, age_of(oldest)
                self._orders_counted_at = time.monotonic()
        self.read.queue_depths = dict(queue_lengths)

    def note_figures(self, figures: ScrapeFigures) -> None:
        self.read.figures, self.read.outbox_oldest_age = figures, age_of(figures.outbox_oldest)

    def note_payment_work(self, prompts_owed: int, status_checks: int) -> None:
        self.payment_work.labels("prompts_owed").set(prompts_owed)
        self.payment_work.labels("status_checks").set(status_checks)

    def note_pass_ages(self, ages: dict[str, float | None]) -> None:
        """The ages read from Redis; a pass with no known age has no sample, rather than a stale one."""
        self.read.pass_ages = {name: round(age, 1) for name, age in ages.items() if age is not None}

    def note_found_paid(self, found: dict[str, int] | None) -> None:
        """The counts read from Redis; None (Redis away) shows none rather than stale ones."""
        self.read.found_paid = dict(found or {})

    def note_redis_answered(self, answered: bool) -> None:
        self.read.redis_answered = answered

    def render(self) -> bytes:
        place = shared_dir()
        return generate_latest(self.registry) if place is None else render_shared(place, self.read)
