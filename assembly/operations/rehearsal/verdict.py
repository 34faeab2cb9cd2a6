"""Go / no-go from a rehearsal's figures against the SLOs (deploy/prometheus/README.md). Plain data and
functions: the driver measures, this judges, so every rule is tested without a server. Missing figures are
a no-go: a rehearsal that saw no vote counted or no frame on the board has shown nothing."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from assembly.operations.rehearsal.outcomes import SAMPLES, Counting, Fates
from gateway.core.orders.kept_events import ARRIVAL_SLACK

TALLY_WITHIN = 2.0  # seconds from a payment's callback to its vote in the tally
FRAME_WITHIN = 1.0  # seconds from a vote in the tally to the board's frame showing it, at the viewer
# seconds from an SMS's arrival to its answer (a vote's payment prompt and reply): the worker answers it, and a
# backlog there keeps a voter waiting minutes for a prompt while every count, once paid, is still in time
SMS_ANSWER_WITHIN = 5.0
OBJECTIVE = 0.99  # share of votes (frames) that must be in time
MAX_ERROR_RATE = 0.01  # votes offered and refused (4xx/5xx, 429s, time-outs) a show can live with


@dataclass(frozen=True)
class LedgerFinding:
    """`gateway ledger verify`'s finding for the contest, after the rehearsal's traffic drained."""

    entries: int
    head: str  # hex
    problems: tuple[str, ...]  # the first broken entry, then what disagrees with the chain; none: it holds


@dataclass
class Observed:
    """What a rehearsal saw. Latencies in seconds, one per vote."""

    offered: int = 0
    fates: Fates = field(default_factory=Fates)
    waited: float = 0.0  # seconds the rehearsal waited, after its last vote, for the installation to settle them
    pending: int = 0  # the rehearsal's orders still undecided when it stopped waiting
    counting: Counting | None = None
    ledger: LedgerFinding | None = None
    to_tally: list[float] = field(default_factory=list)  # callback received -> tally committed
    to_frame: list[float] = field(default_factory=list)  # tally committed -> first frame showing it, received
    # to_frame's two legs, not judged (where the time went): count -> the first board read holding it, one a vote;
    # that read -> the first frame showing it received, one a vote and viewer (run.frame_legs)
    frame_legs: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    frames: int = 0  # board frames received by all viewers
    to_answer: list[float] | None = None  # SMS arrival -> answered, one a message answered; None: no SMS offered


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


def in_time(name: str, values: list[float], within: float, ceiling: float | None = None) -> Check:
    """`ceiling`: the most the figures can show (a callback's arrival is written at most ARRIVAL_SLACK before it is
    kept): a value there took that long or longer, so the maximum is said to be at least that."""
    if not values:
        return Check(name, False, "no figures (missing data is a no-go)")
    late = sum(1 for value in values if value > within)
    share = 1 - late / len(values)
    figures = spread(values)
    if ceiling is not None and max(values) >= ceiling - 0.001:
        figures = figures.replace(" ms, n=", " ms or more (the most the database keeps of a callback's wait), n=")
    return Check(name, share >= OBJECTIVE, f"{share:.2%} within {within:g} s ({late} later; objective "
                                            f"{OBJECTIVE:.0%}); {figures}")


def with_legs(check: Check, legs: tuple[list[float], list[float]]) -> Check:
    """The frames' figures with where their time went: the relay's read of the board, then the board's way out."""
    to_read, to_viewer = legs
    if not to_read or not to_viewer:
        return check
    return Check(check.name, check.go, f"{check.figures}; from the count to the board's read holding it "
                                       f"{spread(to_read)}; from that read to the viewer {spread(to_viewer)}")


def none_lost(observed: Observed) -> Check:
    """A voter told their order was placed whose order is not there is a vote lost; one number with two orders is
    a vote placed twice. What the client gave up on was not told anything, and may have placed its order anyway."""
    fates = observed.fates
    told = sum(fates.told_placed.values())
    name = "every vote told it was placed has its order"
    channels = ", ".join(f"{channel} {n}" for channel, n in sorted(fates.told_placed.items()))
    figures = (f"{fates.found} of {told} ({channels or 'none'}); {fates.gave_up} given up on by the client, "
               f"{fates.placed_anyway} of which placed an order all the same")
    if fates.lost:
        figures += f"; lost: {samples(fates.lost)}"
    if fates.doubled:
        figures += f"; {len(fates.doubled)} numbers with two orders or more: {samples(fates.doubled)}"
    if not told:
        return Check(name, False, f"{figures} (missing data is a no-go)")
    return Check(name, fates.found == told and not fates.doubled, figures)


def samples(items: list[str]) -> str:
    return ", ".join(items[:SAMPLES]) + (f" and {len(items) - SAMPLES} more" if len(items) > SAMPLES else "")


def drained(observed: Observed) -> Check:
    """Votes still undecided when the rehearsal stopped waiting are voters still waiting for their prompt or count;
    the checks below judge only what was decided."""
    name = "every vote decided once the traffic stopped"
    if observed.offered == 0:
        return Check(name, False, "no vote offered (missing data is a no-go)")
    left = observed.pending + observed.fates.unanswered
    if not left:
        return Check(name, True, f"settled within {observed.waited:.0f} s of the last vote")
    return Check(name, False, f"after waiting {observed.waited:.0f} s: {observed.pending} orders pending, "
                              f"{observed.fates.unanswered} SMS not answered")


def counted_once(observed: Observed) -> Check:
    """Like with like: each of the rehearsal's orders against its own ledger entries (its votes once while paid, none
    once flagged, refunded or held), and the tallies' move against the ledger's entries since the start."""
    name = "every paid vote counted once"
    c = observed.counting
    if c is None or not c.paid:
        return Check(name, False, "nothing paid (missing data is a no-go)")
    others = ", ".join(f"{status} {n}" for status, n in sorted(c.not_paid.items()))
    figures = (f"{c.paid_orders} paid orders, {c.paid} votes; the ledger counts {c.on_ledger} for the rehearsal's "
               f"orders{f' (none owed by the others: {others})' if others else ''}; tallies moved by "
               f"{c.tallies_moved}, the ledger's entries since the start by {c.ledger_moved}")
    if c.ledger_moved != c.on_ledger:
        figures += f" ({c.ledger_moved - c.on_ledger} for orders not the rehearsal's)"
    if c.disagreeing:
        figures += "; " + "; ".join(c.disagreeing)
    return Check(name, not c.disagreeing and c.on_ledger == c.paid and c.tallies_moved == c.ledger_moved, figures)


def ledger_holds(observed: Observed) -> Check:
    name = "the ledger verifies (gateway ledger verify)"
    found = observed.ledger
    if found is None:
        return Check(name, False, "not verified (missing data is a no-go)")
    if found.problems:
        return Check(name, False, f"BROKEN: {'; '.join(found.problems)}")
    return Check(name, True, f"ok, {found.entries} entries, head {found.head[:16]}")


def refused(observed: Observed) -> Check:
    """Refusals the voter was told of (an HTTP error, a refusing screen or SMS) and votes the client gave up on."""
    name = f"votes refused at most {MAX_ERROR_RATE:.0%}"
    if observed.offered == 0:
        return Check(name, False, "no vote offered (missing data is a no-go)")
    kinds = observed.fates.refused
    rate = sum(kinds.values()) / observed.offered
    shown = ", ".join(f"{kind} x{n}" for kind, n in sorted(kinds.items())) or "none"
    return Check(name, rate <= MAX_ERROR_RATE, f"{sum(observed.fates.told_placed.values())} of {observed.offered} "
                                               f"placed; refused or given up on {rate:.2%} ({shown})")


def judge(observed: Observed) -> list[Check]:
    """Each SLO with its figures; the rehearsal is a go only when every one is."""
    return [
        in_time(f"votes counted within {TALLY_WITHIN:g} s of payment", observed.to_tally, TALLY_WITHIN,
                ARRIVAL_SLACK.total_seconds()),
        with_legs(in_time(f"board frames within {FRAME_WITHIN:g} s ({observed.frames} frames received)",
                          observed.to_frame, FRAME_WITHIN), observed.frame_legs),
        *([] if observed.to_answer is None else [
            in_time(f"SMS answered within {SMS_ANSWER_WITHIN:g} s of arrival", observed.to_answer,
                    SMS_ANSWER_WITHIN)]),
        none_lost(observed),
        drained(observed),
        counted_once(observed),
        ledger_holds(observed),
        refused(observed),
    ]


def go(checks: list[Check]) -> bool:
    return bool(checks) and all(check.go for check in checks)


def report(checks: list[Check]) -> str:
    lines = [f"{'GO   ' if check.go else 'NO-GO'}  {check.name}: {check.figures}" for check in checks]
    lines.append(f"verdict: {'GO' if go(checks) else 'NO-GO'}")
    return "\n".join(lines)
