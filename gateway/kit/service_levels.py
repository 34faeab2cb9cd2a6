"""The service-level figures measured as the work happens (the rest are read from PostgreSQL at scrape time,
`assembly.web.metrics`): how long a paid vote took to reach the tally and the tally to reach the board, and how
the providers answer. Counters and histograms, one set per process (its app's registry, or the worker's); where a
host's processes share them (`assembly.machine.shared_metrics`), every scrape serves their sum; recording one costs a
dictionary look-up and an addition, never a query."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric

# The SLOs' thresholds (2 s to the tally, 1 s to the board) are bucket bounds, so a burn rate is exact.
TALLY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
BOARD_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
# What a provider's answer was, as an operator acts on it: `throttled` (429; Orange's 403 with code 53) calls for the
# provider's cap, `timeout` and `unreachable` for their status page, `server_error` (5xx) for their on-call,
# `refused` (other 4xx) for ours.
CALL_OUTCOMES = ("ok", "refused", "throttled", "server_error", "timeout", "unreachable")
# The families the control room reads (admin.control_alerts), by name: from this process or the host's sums alike.
TALLY = "gateway_callback_to_tally_seconds"
BOARD = "gateway_count_to_board_seconds"
STATUS_TURN_WAIT = "gateway_status_turn_wait_seconds"
STATUS_CAP = "gateway_status_cap_per_second"
PROVIDER_CALLS = "gateway_provider_calls"


class ServiceLevels:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.callback_to_tally = Histogram(
            TALLY, "From a provider's callback arriving to its votes committed in "
            "the tally", ["provider"], buckets=TALLY_BUCKETS, registry=registry)
        self.count_to_board = Histogram(
            BOARD, "From votes committed in the tally to the board's new frame "
            "published to its viewers", buckets=BOARD_BUCKETS, registry=registry)
        self.start_wait = Histogram(
            "gateway_start_wait_seconds", "How long a payment prompt, once due, waited for a free slot in this web "
            "process's start queue", buckets=WAIT_BUCKETS, registry=registry)
        self.status_turn_wait = Histogram(
            STATUS_TURN_WAIT, "How long a status call waited for its turn under the provider's "
            "cap (its count: the status calls made)", ["provider", "role"], buckets=WAIT_BUCKETS, registry=registry)
        self.status_cap = Gauge(
            STATUS_CAP, "Status calls a second this schedule may make (its share of the "
            "provider's cap)", ["provider", "role"], registry=registry,
            multiprocess_mode="livemostrecent")  # each process of a schedule tells the same figure
        self.provider_calls = Counter(
            PROVIDER_CALLS, "Requests to the providers by how they were answered",
            ["provider", "outcome"], registry=registry)

    def note_counted(self, provider: str, seconds: float) -> None:
        self.callback_to_tally.labels(provider).observe(max(seconds, 0.0))

    def note_board(self, seconds: float) -> None:
        self.count_to_board.observe(max(seconds, 0.0))

    def note_frames(self, topic: str, written: list[datetime]) -> None:
        """A relay published the board's frame for these outbox rows, committed with their votes (`written`)."""
        now = datetime.now(UTC)
        for at in written:
            self.note_board((now - at).total_seconds())

    def note_start_wait(self, seconds: float) -> None:
        self.start_wait.observe(max(seconds, 0.0))

    def note_status_turn(self, provider: str, role: str, seconds: float, per_second: float) -> None:
        self.status_turn_wait.labels(provider, role).observe(seconds)
        self.status_cap.labels(provider, role).set(per_second)

    def note_call(self, provider: str, outcome: str) -> None:
        self.provider_calls.labels(provider, outcome).inc()


@dataclass(frozen=True)
class LevelsSource:
    """Where the control room reads the measured figures. A host's processes sharing theirs (`gateway run`,
    `assembly.machine.shared_metrics`): their sums, the same as /metrics serves, zero when the supervisor emptied their
    directory; else this process's own, zero when it started."""

    collect: Callable[[], Iterable[Metric]]
    started_at: float  # time.monotonic() when these figures were all zero
    host: bool  # the host's processes summed (else this process alone)


def own_source(levels: ServiceLevels, started_at: float) -> LevelsSource:
    """This process's figures only: where it shares none (one `gateway web`, the tests' in-process apps)."""
    measured = (levels.callback_to_tally, levels.count_to_board, levels.provider_calls, levels.status_cap,
                levels.status_turn_wait)
    return LevelsSource(lambda: [family for metric in measured for family in metric.collect()], started_at, False)


# The refusals whose body must be read to tell them apart: Orange's API gateway answers 403 with code 53, "Too many
# requests", over an application's rate (`payments.orange.request_cap`), and 403 with other codes for what is ours.
READ_REFUSALS = frozenset({403})
GATEWAY_TOO_MANY_REQUESTS = "53"


def call_outcome(status: int, error_code: object = None) -> str:
    """A provider's HTTP status (and, for `READ_REFUSALS`, its body's `code`) as one of `CALL_OUTCOMES`."""
    if status == 429 or (status == 403 and str(error_code) == GATEWAY_TOO_MANY_REQUESTS):
        return "throttled"
    if status >= 500:
        return "server_error"
    if status >= 400:
        return "refused"
    return "ok"
