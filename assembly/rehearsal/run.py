"""A rehearsal from start to verdict: check the target is this machine, note the tallies, put viewers on the
board, offer the votes, wait for the installation to settle them, then read from its PostgreSQL what happened
to each of the rehearsal's orders (its callback's arrival, its count) and judge against the SLOs."""

from __future__ import annotations

import asyncio
import bisect
import ipaddress
import math
import os
import platform
import random
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import text

from assembly.rehearsal import verdict
from assembly.rehearsal.load import Traffic, Voter, msisdn, offer, view
from gateway.db.engine import Sessions

MARGIN = 1.5  # a rehearsal offers 150% of the expected peak
SETTLE_SECONDS = 60.0  # the most the rehearsal waits, after its last vote, for the installation to decide them
FRAME_GRACE_SECONDS = 2.0  # viewers stay this long after the last count, for the frames that show it


@dataclass(frozen=True)
class Plan:
    voter: Voter
    peak: float  # expected votes a second at the show's busiest
    seconds: float
    viewers: int = 10

    @property
    def rate(self) -> float:
        return self.peak * MARGIN


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


TALLY_TOTAL = text("SELECT coalesce(sum(t.votes), 0) FROM contests c LEFT JOIN tallies t ON t.contest_id = c.id "
                   "WHERE c.slug = :slug GROUP BY c.id")


async def tally_total(sessions: Sessions, contest: str) -> int | None:
    async with sessions() as session:
        total = await session.scalar(TALLY_TOTAL, {"slug": contest})
    return None if total is None else int(total)


async def unsettled(sessions: Sessions, numbers: list[str], taken_in: int) -> bool:
    """Orders still pending, or votes taken in not yet orders (an SMS waits for a worker to handle it)."""
    async with sessions() as session:
        row = (await session.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE status = 'pending') FROM vote_orders "
            "WHERE voter_msisdn = ANY(:n)"), {"n": numbers})).one()
    return bool(row[1]) or row[0] < taken_in


async def settle(sessions: Sessions, numbers: list[str], taken_in: int) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while await unsettled(sessions, numbers, taken_in) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)


ORDERS = text("""
    SELECT o.status::text, o.quantity, extract(epoch FROM o.decided_at)::float8,
           (SELECT extract(epoch FROM min(e.received_at))::float8 FROM provider_events e WHERE e.order_id = o.id)
    FROM vote_orders o WHERE o.voter_msisdn = ANY(:n)""")


async def orders_and_tally(sessions: Sessions, numbers: list[str], contest: str
                           ) -> tuple[list[tuple[str, int, float | None, float | None]], int]:
    """Each rehearsal order (status, votes, when it was decided, when its first callback arrived, epoch s) and the
    contest's tally, in one snapshot: a count commits its order's status and the tally together, so the two agree
    even while orders are still being decided (read apart, a count in between shows votes no paid order has)."""
    async with sessions() as session:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        rows = [(row[0], row[1], row[2], row[3]) for row in await session.execute(ORDERS, {"n": numbers})]
        total = await session.scalar(TALLY_TOTAL, {"slug": contest})
    return rows, int(total or 0)


def frame_delays(decided: list[float], viewers: list[list[tuple[float, float]]]) -> list[float]:
    """For each counted vote and each viewer, from its count to the first frame received showing it (a frame
    shows every count up to its board's updated_at, to the millisecond). Sorted and bisected: a 10-minute
    rehearsal at 300 votes/s has 180,000 votes for each viewer's 2,400 frames."""
    delays = []
    for frames in viewers:
        ordered = sorted(frames, key=lambda frame: frame[1])
        built = [frame[1] for frame in ordered]
        earliest = [math.inf] * (len(ordered) + 1)  # earliest arrival among the frames from here on
        for i in range(len(ordered) - 1, -1, -1):
            earliest[i] = min(ordered[i][0], earliest[i + 1])
        for at in decided:
            shown = earliest[bisect.bisect_left(built, at - 0.001)]
            if shown != math.inf:
                delays.append(max(0.0, shown - at))
    return delays


def observed_from(traffic: Traffic, rows: list[tuple[str, int, float | None, float | None]],
                  counted: int) -> verdict.Observed:
    paid = [row for row in rows if row[0] == "paid"]
    decided = [row[2] for row in paid if row[2] is not None]
    return verdict.Observed(
        offered=sum(traffic.offered.values()), accepted=sum(traffic.accepted.values()), errors=dict(traffic.errors),
        ordered=len(rows), paid=sum(row[1] for row in paid), counted=counted,
        to_tally=[row[2] - row[3] for row in paid if row[2] is not None and row[3] is not None],
        to_frame=frame_delays(decided, traffic.frames), frames=sum(len(frames) for frames in traffic.frames))


async def rehearse(plan: Plan, sessions: Sessions) -> tuple[list[verdict.Check], str]:
    """Run the plan; the SLO checks and the text to print (figures by channel, the machine, the verdict)."""
    contest = plan.voter.contest
    before = await tally_total(sessions, contest)
    if before is None:
        raise ValueError(f"no contest is called {contest!r} on this installation")
    traffic = Traffic()
    stop = asyncio.Event()
    viewers = [asyncio.create_task(view(plan.voter.base_url, contest, stop, traffic)) for _ in range(plan.viewers)]
    first = random.randrange(1_000_000, 9_000_000)  # numbers of its own: the per-number limits start afresh
    started = time.time()
    used = await offer(plan.voter, plan.rate, plan.seconds, first, traffic)
    numbers = [msisdn(n) for n in range(first, first + used + 7)]
    await settle(sessions, numbers, sum(traffic.accepted.values()))
    await asyncio.sleep(FRAME_GRACE_SECONDS)
    stop.set()
    await asyncio.gather(*viewers, return_exceptions=True)
    rows, after = await orders_and_tally(sessions, numbers, contest)
    counted = after - before
    checks = verdict.judge(observed_from(traffic, rows, counted))
    return checks, describe(plan, traffic, rows, time.time() - started) + "\n" + verdict.report(checks)


def describe(plan: Plan, traffic: Traffic, rows: list[tuple[str, int, float | None, float | None]],
             took: float) -> str:
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row[0]] = statuses.get(row[0], 0) + 1
    lines = [
        f"rehearsal of {plan.voter.contest} at {plan.voter.base_url}: {plan.rate:g} votes/s offered "
        f"({MARGIN:.0%} of a {plan.peak:g}/s peak) for {plan.seconds:g} s, {plan.viewers} viewers; took {took:.0f} s",
        f"machine: {platform.node()}, {platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}",
    ]
    for channel in ("web", "ussd", "sms"):
        if channel in traffic.skipped:
            lines.append(f"  {channel}: skipped, {traffic.skipped[channel]}")
        else:
            lines.append(f"  {channel}: {traffic.accepted[channel]} of {traffic.offered[channel]} accepted")
    lines.append("  telegram: skipped, its votes arrive through Telegram's servers (rehearse it with "
                 "`gateway telegram --simulate`)")
    lines.append("orders: " + (", ".join(f"{k} {v}" for k, v in sorted(statuses.items())) or "none"))
    return "\n".join(lines)
