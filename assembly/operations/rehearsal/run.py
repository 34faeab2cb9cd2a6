"""A rehearsal from start to verdict: check the target is this machine, note the tallies, the ledger and the CPU
spent so far, put viewers on the board, offer the votes, wait for the installation to settle them, note the CPU
again, then read from its PostgreSQL what became of each vote (its order, its callback's arrival, its entries on the
ledger), run the ledger's own check, and judge against the SLOs."""

from __future__ import annotations

import asyncio
import bisect
import ipaddress
import math
import os
import platform
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from assembly.cpu.processes import Address, address_of
from assembly.operations.rehearsal import outcomes, readings, verdict
from assembly.operations.rehearsal.cpu import cpu_lines, read_cpu
from assembly.operations.rehearsal.load import Told, Traffic, Vote, Voter, offer, view
from assembly.operations.rehearsal.schedule import LATE_SENDING_SECONDS
from gateway.db.engine import Sessions

MARGIN = 1.5  # a rehearsal offers 150% of the expected peak
# The most the rehearsal waits, after its last vote, for the installation to decide them: a minute, or half the run
# (a backlog built while the installation was over its capacity drains at the pace it has left).
SETTLE_SECONDS = 60.0
SETTLE_SHARE = 0.5
FRAME_GRACE_SECONDS = 2.0  # viewers stay this long after the last count, for the frames that show it


@dataclass(frozen=True)
class Plan:
    voter: Voter
    peak: float  # expected votes a second at the show's busiest
    seconds: float
    viewers: int = 10
    settle_seconds: float | None = None  # None: SETTLE_SECONDS, or SETTLE_SHARE of the run if longer
    metrics_token: str | None = None  # what the installation's /metrics asks (METRICS_TOKEN), if anything
    servers: tuple[str, ...] = ()  # its PostgreSQL's and Redis's URLs: found among this machine's processes

    @property
    def addresses(self) -> tuple[Address, ...]:
        """Where the installation listens on this machine; none when its web processes are elsewhere."""
        web = address_of(self.voter.base_url)
        if web is None:
            return ()
        return (web, *(found for url in self.servers if (found := address_of(url)) is not None))

    @property
    def rate(self) -> float:
        return self.peak * MARGIN

    @property
    def settle_within(self) -> float:
        if self.settle_seconds is not None:
            return self.settle_seconds
        return max(SETTLE_SECONDS, self.seconds * SETTLE_SHARE)


def refuse_remote(url: str, allow_remote: bool) -> None:
    """A rehearsal is a load test paid by sandboxes: aimed at a production host by mistake it would be a flood."""
    host = urlsplit(url).hostname or ""
    if allow_remote or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"{host or url!r} is not this machine: a rehearsal drives a staging installation on "
                         "loopback (pass --allow-remote to aim it elsewhere, knowingly)")


async def settle(sessions: Sessions, votes: list[Vote], began: readings.Start, within: float) -> float:
    """Wait, at most `within` seconds, until every order is decided and every SMS answered; the seconds waited."""
    waited_from = time.monotonic()
    while await readings.undecided(sessions, votes, began) and time.monotonic() < waited_from + within:
        await asyncio.sleep(1.0)
    return time.monotonic() - waited_from


def frame_delays(decided: list[float], viewers: list[list[tuple[float, float]]]) -> list[float]:
    """For each counted vote and each viewer, from its count to the first frame received showing it (a frame
    shows every count up to its board's updated_at, to the millisecond). Sorted and bisected: a 10-minute
    rehearsal at 300 votes/s has 180,000 votes for each viewer's 2,400 frames."""
    delays = []
    for frames in viewers:
        shown_at = first_arrivals(frames)
        for at in decided:
            shown = shown_at(at)
            if shown != math.inf:
                delays.append(max(0.0, shown - at))
    return delays


def frame_legs(decided: list[float], viewers: list[list[tuple[float, float]]]) -> tuple[list[float], list[float]]:
    """Where a vote's frame time went: from its count to the first read of the board that holds it (the earliest
    updated_at after it among every viewer's frames: the relay's part), one figure a vote; and from that read to
    each viewer's first frame showing the vote (its store and announcement, each web process's stream or the fan-out
    server, the network), one a vote and viewer."""
    reads = sorted({built for frames in viewers for _, built in frames})
    first_read: dict[float, float] = {}
    for at in decided:
        index = bisect.bisect_left(reads, at - 0.001)
        if index < len(reads):
            first_read[at] = reads[index]
    to_viewer = []
    for frames in viewers:
        shown_at = first_arrivals(frames)
        for at, read in first_read.items():
            shown = shown_at(at)
            if shown != math.inf:
                to_viewer.append(max(0.0, shown - read))
    return [max(0.0, read - at) for at, read in first_read.items()], to_viewer


def first_arrivals(frames: list[tuple[float, float]]) -> Callable[[float], float]:
    """A viewer's first arrival of a frame showing a count made at a given time (inf: none came)."""
    ordered = sorted(frames, key=lambda frame: frame[1])
    built = [frame[1] for frame in ordered]
    earliest = [math.inf] * (len(ordered) + 1)  # earliest arrival among the frames from here on
    for i in range(len(ordered) - 1, -1, -1):
        earliest[i] = min(ordered[i][0], earliest[i + 1])
    return lambda at: earliest[bisect.bisect_left(built, at - 0.001)]


def observed_from(traffic: Traffic, end: readings.End, waited: float, found: verdict.LedgerFinding
                  ) -> verdict.Observed:
    paid = [order for order in end.orders if order.status == "paid"]
    decided = [order.decided_at for order in paid if order.decided_at is not None]
    return verdict.Observed(
        offered=sum(traffic.offered.values()), fates=outcomes.fates(traffic.votes, end.orders, end.sms),
        waited=waited, pending=sum(1 for order in end.orders if order.status == "pending"),
        counting=outcomes.counting(end.orders, end.tallies_moved, end.ledger_moved), ledger=found,
        to_tally=[order.decided_at - order.first_callback for order in paid
                  if order.decided_at is not None and order.first_callback is not None],
        to_frame=frame_delays(decided, traffic.frames), frame_legs=frame_legs(decided, traffic.frames),
        frames=sum(len(frames) for frames in traffic.frames),
        to_answer=[answer.answered_in for answer in end.sms.values() if answer.answered_in is not None]
        if end.sms else None)


async def rehearse(plan: Plan, sessions: Sessions) -> tuple[list[verdict.Check], str]:
    """Run the plan; the SLO checks and the text to print (figures by channel, the machine, the verdict)."""
    contest = plan.voter.contest
    began = await readings.start(sessions, contest)
    if began is None:
        raise ValueError(f"no contest is called {contest!r} on this installation")
    traffic = Traffic()
    cpu_before = await read_cpu(plan.voter.base_url, plan.metrics_token, plan.addresses)
    stop = asyncio.Event()
    viewers = [asyncio.create_task(view(plan.voter.base_url, contest, stop, traffic)) for _ in range(plan.viewers)]
    first = random.randrange(1_000_000, 9_000_000)  # numbers of its own: the per-number limits start afresh
    started = time.time()
    await offer(plan.voter, plan.rate, plan.seconds, first, traffic)
    waited = await settle(sessions, traffic.votes, began, plan.settle_within)
    await asyncio.sleep(FRAME_GRACE_SECONDS)
    stop.set()
    await asyncio.gather(*viewers, return_exceptions=True)
    cpu_after = await read_cpu(plan.voter.base_url, plan.metrics_token, plan.addresses)  # before the reads below
    end = await readings.end(sessions, traffic.votes, began)
    found = await readings.ledger_finding(sessions, began.contest_id)  # after the drain: the chain as it stands
    checks = verdict.judge(observed_from(traffic, end, waited, found))
    return checks, "\n".join([describe(plan, traffic, end.orders, time.time() - started),
                              *cpu_lines(cpu_before, cpu_after, traffic.offered, os.cpu_count() or 1),
                              verdict.report(checks)])


def describe(plan: Plan, traffic: Traffic, orders: list[outcomes.Order], took: float) -> str:
    """The run, the machine (with its load: a shared machine's figures are its neighbours' too) and each channel."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    lines = [
        f"rehearsal of {plan.voter.contest} at {plan.voter.base_url}: {plan.rate:g} votes/s offered "
        f"({MARGIN:.0%} of a {plan.peak:g}/s peak) for {plan.seconds:g} s, {plan.viewers} viewers; took {took:.0f} s",
        f"machine: {platform.node()}, {platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; load average {load} (1, 5, 15 min) at the end",
    ]
    for channel in ("web", "ussd", "sms"):
        if channel in traffic.skipped:
            lines.append(f"  {channel}: skipped, {traffic.skipped[channel]}")
            continue
        told = Counter(vote.told for vote in traffic.votes if vote.channel == channel)
        answers = ", ".join(f"{kind} {told[kind]}" for kind in Told if told[kind])
        lines.append(f"  {channel}: {traffic.offered[channel]} offered: {answers or 'none answered'}")
    lines.append("  telegram: skipped, its votes arrive through Telegram's servers (rehearse it with "
                 "`gateway telegram --simulate`)")
    if traffic.behind >= LATE_SENDING_SECONDS:
        lines.append(f"  the voters fell behind their schedule by up to {traffic.behind:.1f} s (this machine could "
                     "not send them on time): the late votes went out together, every one of them")
    if traffic.viewer_errors:
        lines.append("  viewers refused: " + ", ".join(f"{k} x{n}" for k, n in sorted(traffic.viewer_errors.items())))
    statuses = Counter(order.status for order in orders)
    lines.append("orders: " + (", ".join(f"{k} {v}" for k, v in sorted(statuses.items())) or "none"))
    return "\n".join(lines)
