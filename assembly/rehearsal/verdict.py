"""Go / no-go from a rehearsal's figures against the SLOs (deploy/prometheus/README.md). Plain data and
functions: the driver measures, this judges, so every rule is tested without a server. Missing figures are
a no-go: a rehearsal that saw no vote counted or no frame on the board has shown nothing."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

TALLY_WITHIN = 2.0  # seconds from a payment's callback to its vote in the tally
FRAME_WITHIN = 1.0  # seconds from a vote in the tally to the board's frame showing it, at the viewer
OBJECTIVE = 0.99  # share of votes (frames) that must be in time
MAX_ERROR_RATE = 0.01  # votes offered and refused (4xx/5xx, 429s, time-outs) a show can live with


@dataclass
class Observed:
    """What a rehearsal saw. Latencies in seconds, one per vote."""

    offered: int = 0
    accepted: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # by kind: "HTTP 429", "ReadTimeout", ...
    ordered: int = 0  # orders the installation holds for the rehearsal's votes (an SMS is kept, then handled)
    paid: int = 0  # the rehearsal's orders the installation marked paid (votes)
    counted: int = 0  # how far the tallies moved meanwhile (votes)
    to_tally: list[float] = field(default_factory=list)  # callback received -> tally committed
    to_frame: list[float] = field(default_factory=list)  # tally committed -> first frame showing it, received
    frames: int = 0  # board frames received by all viewers


@dataclass(frozen=True)
class Check:
    name: str
    go: bool
    figures: str


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def spread(values: list[float]) -> str:
    if not values:
        return "no figures"
    return (f"p50 {percentile(values, 50) * 1000:.0f} ms, p99 {percentile(values, 99) * 1000:.0f} ms, "
            f"max {max(values) * 1000:.0f} ms, n={len(values)}")


def in_time(name: str, values: list[float], within: float) -> Check:
    if not values:
        return Check(name, False, "no figures (missing data is a no-go)")
    late = sum(1 for value in values if value > within)
    share = 1 - late / len(values)
    return Check(name, share >= OBJECTIVE, f"{share:.2%} within {within:g} s ({late} later; objective "
                                            f"{OBJECTIVE:.0%}); {spread(values)}")


def all_ordered(observed: Observed) -> Check:
    """A vote taken in and never turned into an order (an SMS kept while no worker handles them) is a vote lost."""
    name = "every vote taken in placed an order"
    figures = f"{observed.ordered} orders for {observed.accepted} votes taken in"
    return Check(name, observed.accepted > 0 and observed.ordered == observed.accepted,
                 figures if observed.accepted else f"{figures} (missing data is a no-go)")


def counted_once(observed: Observed) -> Check:
    name = "every paid vote counted once"
    figures = f"{observed.paid} paid, tallies moved by {observed.counted}"
    return Check(name, observed.paid > 0 and observed.counted == observed.paid,
                 figures if observed.paid else f"{figures} (nothing paid: missing data is a no-go)")


def refused(observed: Observed) -> Check:
    name = f"votes refused at most {MAX_ERROR_RATE:.0%}"
    if observed.offered == 0:
        return Check(name, False, "no vote offered (missing data is a no-go)")
    failed = sum(observed.errors.values())
    rate = failed / observed.offered
    kinds = ", ".join(f"{kind} x{n}" for kind, n in sorted(observed.errors.items())) or "none"
    return Check(name, rate <= MAX_ERROR_RATE,
                 f"{observed.accepted} of {observed.offered} accepted, error rate {rate:.2%} ({kinds})")


def judge(observed: Observed) -> list[Check]:
    """Each SLO with its figures; the rehearsal is a go only when every one is."""
    return [
        in_time(f"votes counted within {TALLY_WITHIN:g} s of payment", observed.to_tally, TALLY_WITHIN),
        in_time(f"board frames within {FRAME_WITHIN:g} s ({observed.frames} frames received)",
                observed.to_frame, FRAME_WITHIN),
        all_ordered(observed),
        counted_once(observed),
        refused(observed),
    ]


def go(checks: list[Check]) -> bool:
    return bool(checks) and all(check.go for check in checks)


def report(checks: list[Check]) -> str:
    lines = [f"{'GO   ' if check.go else 'NO-GO'}  {check.name}: {check.figures}" for check in checks]
    lines.append(f"verdict: {'GO' if go(checks) else 'NO-GO'}")
    return "\n".join(lines)
