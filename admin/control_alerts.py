"""The control room's measured figures over the windows its alert rules read, kept in-process.

The histograms and counters of `ServiceLevels` only ever grow (this process's, or the host's sums where its
processes share them: `LevelsSource`), and so does the reconciler's found-paid count in Redis; the control room
keeps a snapshot of them (and of the verification backlog, a gauge whose slope a rule reads) every few seconds
(`LevelsHistory`), long enough back for the longest window of the rules it evaluates (`admin.alert_rules`), and
answers "the last N seconds" for each rule's own windows, as Prometheus' `rate(…[N])` does, and for the figures it
shows (confirmation latency p50/p99 as `histogram_quantile` would estimate it, each provider's calls by outcome).

The alerts themselves: `admin.control_conditions` (the rules' conditions) and `admin.alert_states` (`for:`).
Pure functions and data: tested without I/O.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.metrics_core import Metric

from admin.alert_rules import LONGEST_WINDOW
from gateway.kit.service_levels import BOARD, PROVIDER_CALLS, STATUS_CAP, STATUS_TURN_WAIT, TALLY

FAILING_OUTCOMES = ("server_error", "timeout", "unreachable")
SHOWN_SECONDS = 300.0  # the figures the page shows (latency, providers' shares): over the last five minutes
SNAPSHOT_EVERY = 2.0
REPLACED = "gateway_processes_replaced"  # `gateway run`'s count of the children it replaced (assembly.machine.liveness)
Buckets = tuple[tuple[float, float], ...]  # (upper bound, cumulative count)


@dataclass(frozen=True)
class LevelsSnapshot:
    """The cumulative figures at one moment (or, from `difference`, what happened between two)."""

    tally_buckets: Buckets = ()  # every provider together
    calls: dict[tuple[str, str], float] = field(default_factory=dict)  # (provider, outcome) -> calls
    caps: dict[str, float] = field(default_factory=dict)  # "provider role" -> status calls a second allowed
    status_calls: dict[str, float] = field(default_factory=dict)  # "provider role" -> status calls made
    board_buckets: Buckets = ()
    replaced: dict[str, float] = field(default_factory=dict)  # process -> times `gateway run` replaced it
    found_paid: dict[str, float] | None = None  # provider -> orders the reconciler found paid; None: unknown
    verification_backlog: float | None = None  # a gauge, for its slope; None: unknown
    # provider -> the share of its orders paid in the last minutes that the reconciler found paid (a gauge, whose
    # highest over a window a rule reads: `admin.control_conditions.record`)
    found_paid_share: dict[str, float] = field(default_factory=dict)


def _buckets(families: list[Metric], name: str) -> Buckets:
    summed: dict[float, float] = {}
    for metric in families:
        for sample in metric.samples:
            if metric.name == name and sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                summed[bound] = summed.get(bound, 0.0) + sample.value
    return tuple(sorted(summed.items()))


def _counted(families: list[Metric], name: str, *labels: str) -> dict[tuple[str, ...], float]:
    counted: dict[tuple[str, ...], float] = {}
    for s in (s for metric in families if metric.name == name for s in metric.samples):
        if s.name.endswith("_total"):
            key = tuple(s.labels[label] for label in labels)
            counted[key] = counted.get(key, 0.0) + s.value
    return counted


def snapshot(measured: Iterable[Metric], found_paid: Mapping[str, int] | None = None,
             verification_backlog: float | None = None) -> LevelsSnapshot:
    """The families of `ServiceLevels` as collected (`LevelsSource`: one process's or the host's sums), with the
    found-paid counts read from Redis (None: it did not answer) and the verification backlog."""
    families = list(measured)
    caps = {f'{s.labels["provider"]} {s.labels["role"]}': s.value
            for metric in families if metric.name == STATUS_CAP for s in metric.samples}
    made = {f'{s.labels["provider"]} {s.labels["role"]}': s.value for metric in families
            if metric.name == STATUS_TURN_WAIT for s in metric.samples if s.name.endswith("_count")}
    calls = {(provider, outcome): n for (provider, outcome), n in
             _counted(families, PROVIDER_CALLS, "provider", "outcome").items()}
    replaced = {process: n for (process,), n in _counted(families, REPLACED, "process").items()}
    return LevelsSnapshot(_buckets(families, TALLY), calls, caps, made, _buckets(families, BOARD), replaced,
                          None if found_paid is None else {k: float(v) for k, v in found_paid.items()},
                          verification_backlog)


def increase(new: float, old: float) -> float:
    """A counter's increase; one that went down was reset (a process, or Redis, started again), as `increase()`."""
    return new - old if new >= old else new


def _increases(new: Mapping[str, float], old: Mapping[str, float]) -> dict[str, float]:
    return {key: increase(n, old.get(key, 0.0)) for key, n in new.items()}


def difference(new: LevelsSnapshot, old: LevelsSnapshot) -> LevelsSnapshot:
    """What happened between two snapshots (the gauges: the newer's)."""
    def buckets(newer: Buckets, older: Buckets) -> Buckets:
        before = dict(older)
        return tuple((bound, increase(count, before.get(bound, 0.0))) for bound, count in newer)

    return LevelsSnapshot(
        buckets(new.tally_buckets, old.tally_buckets),
        {key: increase(n, old.calls.get(key, 0.0)) for key, n in new.calls.items()}, new.caps,
        _increases(new.status_calls, old.status_calls), buckets(new.board_buckets, old.board_buckets),
        _increases(new.replaced, old.replaced),
        None if new.found_paid is None or old.found_paid is None else _increases(new.found_paid, old.found_paid),
        new.verification_backlog, new.found_paid_share)


class LevelsHistory:
    """Snapshots taken as the room is looked at, back to the longest window a rule reads. The figures' start (all
    zero then) is the first. Nobody watching takes no snapshot: a window then covers the whole quiet spell until
    the room's looks give it one of its length; `over` says how many seconds a window covered."""

    def __init__(self, started_at: float, keep_seconds: float = LONGEST_WINDOW) -> None:
        self.keep_seconds = max(keep_seconds, SHOWN_SECONDS)
        self.times: list[float] = [started_at]  # the figures' start, all zero then (`LevelsSource.started_at`)
        self.snapshots: list[LevelsSnapshot] = [LevelsSnapshot()]

    def add(self, now: float, current: LevelsSnapshot) -> None:
        if now - self.times[-1] >= SNAPSHOT_EVERY:
            self.times.append(now)
            self.snapshots.append(current)
        # Keep the newest snapshot at least `keep_seconds` old (the base of the longest window), none older.
        drop = bisect.bisect_right(self.times, now - self.keep_seconds) - 1
        if drop > 0:
            del self.times[:drop], self.snapshots[:drop]

    def base(self, now: float, seconds: float) -> int:
        """The index of the snapshot a window of `seconds` starts from: the newest at least that old, unless it is
        far older (nobody watched meanwhile) and a younger one covers part of the window; else the oldest."""
        at_least = bisect.bisect_right(self.times, now - seconds) - 1
        younger = at_least + 1
        if younger < len(self.times) and now - self.times[younger] < SNAPSHOT_EVERY:
            younger = len(self.times)  # too young to cover anything
        if at_least >= 0 and (now - self.times[at_least] <= 2 * seconds or younger >= len(self.times)):
            return at_least
        return younger if younger < len(self.times) else 0

    def over(self, now: float, current: LevelsSnapshot, seconds: float) -> tuple[LevelsSnapshot, float]:
        """What happened over (about) the last `seconds`, and the seconds it covers."""
        index = self.base(now, seconds)
        return difference(current, self.snapshots[index]), now - self.times[index]

    def within(self, now: float, seconds: float) -> list[tuple[float, LevelsSnapshot]]:
        """The snapshots of the last `seconds`, as a range selector's samples."""
        first = bisect.bisect_left(self.times, now - seconds)
        return list(zip(self.times[first:], self.snapshots[first:], strict=True))

    def backlog_slope(self, now: float, seconds: float) -> float | None:
        """`deriv()`: the least-squares slope of the verification backlog over the last `seconds`, a second; None
        with fewer than two known values."""
        points = [(at, snap.verification_backlog) for at, snap in self.within(now, seconds)]
        known = [(t, v) for t, v in points if v is not None]
        if len(known) < 2:
            return None
        mean_t = sum(t for t, _ in known) / len(known)
        mean_v = sum(v for _, v in known) / len(known)
        spread = sum((t - mean_t) ** 2 for t, _ in known)
        return None if spread <= 0 else sum((t - mean_t) * (v - mean_v) for t, v in known) / spread


def quantile(q: float, buckets: Buckets) -> float | None:
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


def late_share(buckets: Buckets, threshold: float) -> float | None:
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
