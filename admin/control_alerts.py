"""The control room's measured figures over the last minutes, and which of the key alerts fire, computed in-process.

The histograms and counters of `ServiceLevels` only ever grow (this process's, or the host's sums where its
processes share them: `LevelsSource`); the control room keeps a snapshot of them every few seconds
(`LevelsHistory`) and shows the difference over its window: confirmation latency p50/p99 as `histogram_quantile`
would estimate it, and each provider's calls by outcome.

The alerts are the conditions of deploy/prometheus/rules.yml computable from those figures, with the same
thresholds. They are a picture for the people watching, of one host (or one process, where it shares nothing):
Prometheus and Alertmanager remain the source for paging (their rules add `for:` durations, every host and the
exporters).
Pure functions and data: tested without I/O.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.metrics_core import Metric

from gateway.core.oversight.control_room import ServiceFigures
from gateway.jobs.last_passes import PERIODIC_PASSES
from gateway.kit.service_levels import PROVIDER_CALLS, STATUS_CAP, STATUS_TURN_WAIT, TALLY

SILENT_PASS_SECONDS = 45  # ReconcilerOrRelaySilent
OUTBOX_OLDEST_SECONDS = 30  # OutboxNotRelayed
VERIFICATION_OLDEST_SECONDS = 300  # VerificationBacklogGrowing
THROTTLED_SHARE = 0.05  # ProviderThrottling
FAILING_SHARE = 0.10  # ProviderFailing
TALLY_SLO_SECONDS = 2.0
TALLY_LATE_BURN = 14.4 * 0.01  # VotesCountedLateFastBurn: 14.4 times a 1 % budget
FAILING_OUTCOMES = ("server_error", "timeout", "unreachable")
HISTORY_SECONDS = 300.0
SNAPSHOT_EVERY = 2.0


@dataclass(frozen=True)
class LevelsSnapshot:
    """The cumulative figures of `ServiceLevels` at one moment."""

    tally_buckets: tuple[tuple[float, float], ...] = ()  # (upper bound, cumulative count), every provider together
    calls: dict[tuple[str, str], float] = field(default_factory=dict)  # (provider, outcome) -> calls
    caps: dict[str, float] = field(default_factory=dict)  # "provider role" -> status calls a second allowed
    status_calls: dict[str, float] = field(default_factory=dict)  # "provider role" -> status calls made


def _buckets(families: list[Metric]) -> tuple[tuple[float, float], ...]:
    summed: dict[float, float] = {}
    for metric in families:
        for sample in metric.samples:
            if metric.name == TALLY and sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                summed[bound] = summed.get(bound, 0.0) + sample.value
    return tuple(sorted(summed.items()))


def _calls(families: list[Metric]) -> dict[tuple[str, str], float]:
    calls: dict[tuple[str, str], float] = {}
    for s in (s for metric in families if metric.name == PROVIDER_CALLS for s in metric.samples):
        if s.name.endswith("_total"):
            key = (s.labels["provider"], s.labels["outcome"])
            calls[key] = calls.get(key, 0.0) + s.value
    return calls


def snapshot(measured: Iterable[Metric]) -> LevelsSnapshot:
    """The families of `ServiceLevels` as collected (`LevelsSource`): one process's or the host's sums."""
    families = list(measured)
    caps = {f'{s.labels["provider"]} {s.labels["role"]}': s.value
            for metric in families if metric.name == STATUS_CAP for s in metric.samples}
    made = {f'{s.labels["provider"]} {s.labels["role"]}': s.value for metric in families
            if metric.name == STATUS_TURN_WAIT for s in metric.samples if s.name.endswith("_count")}
    return LevelsSnapshot(_buckets(families), _calls(families), caps, made)


def difference(new: LevelsSnapshot, old: LevelsSnapshot) -> LevelsSnapshot:
    """What happened between two snapshots (the caps: the newer's, a gauge)."""
    before = dict(old.tally_buckets)
    return LevelsSnapshot(tuple((bound, count - before.get(bound, 0.0)) for bound, count in new.tally_buckets),
                          {key: n - old.calls.get(key, 0.0) for key, n in new.calls.items()}, new.caps,
                          {key: n - old.status_calls.get(key, 0.0) for key, n in new.status_calls.items()})


class LevelsHistory:
    """Snapshots taken as the room is looked at; the difference from the newest one at least HISTORY_SECONDS old
    answers 'the last minutes'. Nobody watching takes no snapshot, so the first look after a quiet spell covers
    that spell too: `span` says how many seconds the last window covered."""

    def __init__(self, started_at: float) -> None:
        self.started_at = started_at  # the figures' start, all zero then (`LevelsSource.started_at`)
        self.snapshots: deque[tuple[float, LevelsSnapshot]] = deque()
        self.span = 0.0

    def window(self, now: float, current: LevelsSnapshot) -> LevelsSnapshot:
        if not self.snapshots or now - self.snapshots[-1][0] >= SNAPSHOT_EVERY:
            self.snapshots.append((now, current))
        while len(self.snapshots) > 1 and now - self.snapshots[1][0] >= HISTORY_SECONDS:
            self.snapshots.popleft()
        oldest_at, oldest = self.snapshots[0]
        if now - oldest_at >= HISTORY_SECONDS:
            self.span = now - oldest_at
            return difference(current, oldest)
        self.span = now - self.started_at  # no snapshot that old yet: since the figures started
        return difference(current, LevelsSnapshot())


def quantile(q: float, buckets: tuple[tuple[float, float], ...]) -> float | None:
    """`histogram_quantile(q, …)` on cumulative buckets: linear within the bucket; None without observations."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # beyond the last finite bound: its bound, as Prometheus answers
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / max(count - lower_count, 1e-12)
        lower_bound, lower_count = bound, count
    return lower_bound


def late_share(buckets: tuple[tuple[float, float], ...], threshold: float) -> float | None:
    """The share of observations above `threshold` (a bucket bound); None without observations."""
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return None
    within = next((count for bound, count in buckets if bound >= threshold), total)
    return 1 - within / total


def provider_shares(calls: dict[tuple[str, str], float]) -> dict[str, tuple[float, float, float]]:
    """Each provider's (calls, throttled share, failing share) in the window, for providers called in it."""
    shares: dict[str, tuple[float, float, float]] = {}
    for provider in sorted({p for p, _ in calls}):
        total = sum(n for (p, _), n in calls.items() if p == provider)
        if total > 0:
            throttled = calls.get((provider, "throttled"), 0.0) / total
            failing = sum(calls.get((provider, o), 0.0) for o in FAILING_OUTCOMES) / total
            shares[provider] = (total, throttled, failing)
    return shares


def cap_use(window: LevelsSnapshot, seconds: float) -> dict[str, float]:
    """Each status schedule's calls a second over the window as a share of its cap (1.0: the cap reached)."""
    return {key: window.status_calls.get(key, 0.0) / seconds / cap
            for key, cap in window.caps.items() if cap > 0 and seconds > 0}


@dataclass(frozen=True)
class Alert:
    name: str  # the rule's name in deploy/prometheus/rules.yml
    firing: bool
    detail: str  # the figure behind it, in numbers (the page puts the rule's meaning in words beside it)


def alerts(figures: ServiceFigures, pass_ages: Mapping[str, float | None] | None,
           window: LevelsSnapshot) -> list[Alert]:
    """The in-process alerts, quiet ones included. `pass_ages` None: Redis did not answer (so the passes are
    unknown, as Prometheus' absent series)."""
    found: list[Alert] = []
    late = late_share(window.tally_buckets, TALLY_SLO_SECONDS)
    found.append(Alert("VotesCountedLateFastBurn", late is not None and late > TALLY_LATE_BURN,
                       "–" if late is None else f"{late:.1%} > {TALLY_SLO_SECONDS:g} s"))
    found.append(Alert("NoVotesArriving", figures.contests_on_air > 0 and figures.orders_placed_recently == 0,
                       f"{figures.contests_on_air} on air, {figures.orders_placed_recently} orders / 10 min"))
    for job in PERIODIC_PASSES:
        age = None if pass_ages is None else pass_ages.get(job)
        found.append(Alert(f"ReconcilerOrRelaySilent:{job}", age is None or age > SILENT_PASS_SECONDS,
                           "–" if age is None else f"{age:.0f} s"))
    outbox_age = figures.outbox_oldest_seconds or 0.0
    found.append(Alert("OutboxNotRelayed", outbox_age > OUTBOX_OLDEST_SECONDS,
                       f"{figures.outbox_backlog}, {outbox_age:.0f} s"))
    verification_age = figures.verification_oldest_seconds or 0.0
    found.append(Alert("VerificationBacklogGrowing", verification_age > VERIFICATION_OLDEST_SECONDS,
                       f"{figures.verification_backlog}, {verification_age:.0f} s"))
    for provider, (total, throttled, failing) in provider_shares(window.calls).items():
        found.append(Alert(f"ProviderThrottling:{provider}", throttled > THROTTLED_SHARE,
                           f"{throttled:.1%} / {total:.0f}"))
        found.append(Alert(f"ProviderFailing:{provider}", failing > FAILING_SHARE, f"{failing:.1%} / {total:.0f}"))
    return found
