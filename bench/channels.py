"""Every channel's cost per vote, measured in one run: the CPU each kind of process spends per counted vote when votes
come by the web API (paid with MTN, as `bench.votes` measures), by USSD, by SMS and in the Telegram bot (paid in
Stars), each through its own path against the stand-ins (bench/channel_load.py), and where its time goes: requests
and hops, PostgreSQL's transactions and rows, Redis's commands (bench/channel_counts.py).

    python -m bench.channels [--rate 40] [--seconds 20] [--only web,ussd,sms,telegram] [--no-record]

One channel at a time, each: a short warm-up at the same rate, every vote of it counted and verified, then the stack
left quiet for its statistics to settle (its idle CPU measured meanwhile); then votes offered at `--rate` a second
for `--seconds` whatever the answers' pace (open loop), and the wait until every accepted one is decided and the
outbox drained (its receipt sent): the CPU from the load's start to then, divided by the votes counted. Then the wait
until each of them is verified (MTN's status calls, at most 10 a second; Telegram's list of Star transactions, every
30 s), which the figures after "counted and verified" include.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import asyncpg
import httpx
from redis.asyncio import Redis

from bench.channel_counts import (
    STATS_SETTLE_SECONDS,
    Counts,
    StandIns,
    Stats,
    counts,
    database_line,
    per_vote,
    redis_line,
    replaced_line,
    requests_line,
    stats,
    stats_line,
)
from bench.channel_load import CHANNELS, CONTEST, Cast, Target, caster, primed
from bench.harness import (
    Stack,
    cpu_per_item,
    cpu_seconds,
    loop_stalls,
    machine_cpu_seconds,
    machine_share,
    print_report,
    record,
    running_stack,
)
from bench.open_loop import lateness_said, open_loop
from bench.votes import Load

WAIT_EVERY = 0.5
START_UP_SECONDS = 300.0  # the demo contests' clips transcoded and their outbox delivered, before anything is measured
DECIDED = ("SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status <> 'pending'), "
           "count(*) FILTER (WHERE status = 'paid') FROM vote_orders WHERE channel = $1")
OUTBOX_OWED = "SELECT count(*) FROM outbox WHERE delivered_at IS NULL"
UNVERIFIED = ("SELECT count(*) FROM payment_verifications v JOIN vote_orders o ON o.id = v.order_id "
              "WHERE o.channel = $1 AND v.verified_at IS NULL")


@dataclass
class Probe:
    """The connections a run reads the stack through."""

    stack: Stack
    database: asyncpg.Connection
    redis: Redis
    http: httpx.AsyncClient
    target: Target
    own_commands: Counter[str] = field(default_factory=Counter)  # the Redis commands of its own readings

    async def counts(self) -> Counts:
        return await counts(self.database, self.redis, self.http, self.stack.base_url,
                            StandIns(self.stack.at_url, self.stack.bot_api_url), self.own_commands)

    async def decided(self, channel: str) -> tuple[int, int, int]:
        pending, decided, paid = await self.database.fetchrow(DECIDED, channel)
        return int(pending), int(decided), int(paid)

    async def settled(self, channel: str, decided_before: int, accepted: int, timeout: float) -> float | None:
        """Seconds until every vote accepted since is decided and the outbox delivered; None if time ran out."""
        started = time.monotonic()
        while time.monotonic() < started + timeout:
            pending, decided, _ = await self.decided(channel)
            if not pending and decided - decided_before >= accepted and not await self.database.fetchval(OUTBOX_OWED):
                return time.monotonic() - started
            await asyncio.sleep(WAIT_EVERY)
        return None

    async def verified(self, channel: str, timeout: float) -> float | None:
        started = time.monotonic()
        while time.monotonic() < started + timeout:
            if not await self.database.fetchval(UNVERIFIED, channel):
                return time.monotonic() - started
            await asyncio.sleep(WAIT_EVERY)
        return None


@contextlib.asynccontextmanager
async def probing(stack: Stack) -> AsyncIterator[Probe]:
    database = await asyncpg.connect(stack.database_url)
    redis = Redis.from_url(stack.redis_url)
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            await http.post(f"{stack.sandbox_url}/_control", json={"success_delay": 0.05})  # as bench.votes
            name = await database.fetchval("SELECT name FROM contests WHERE slug = $1", CONTEST)
            yield Probe(stack, database, redis, http, Target(stack.base_url, stack.bot_api_url, str(name)))
    finally:
        await redis.aclose()
        await database.close()


async def started_up(probe: Probe) -> None:
    """The stack's own start-up work done (the demo clips' transcodes, their outbox), which no vote should pay for."""
    deadline = time.monotonic() + START_UP_SECONDS
    while time.monotonic() < deadline:
        received = await probe.database.fetchval("SELECT count(*) FROM media_uploads WHERE state = 'received'")
        if not received and not await probe.database.fetchval(OUTBOX_OWED):
            return
        await asyncio.sleep(1)


async def offer(cast: Cast, rate: float, seconds: float) -> float:
    """The votes of an open loop; how late its latest went out (seconds)."""
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as http:
        return await open_loop(rate, seconds, lambda: cast(http))


@dataclass
class Reading:
    """The stack's counters at one moment of a phase."""

    cpu: dict[str, float]
    counts: Counts
    paid: int = 0
    decided: int = 0


@dataclass
class Phase:
    """One channel's votes, as measured: A before the load, B once they are counted, C once verified."""

    channel: str
    warm: int  # votes taken in the warm-up
    idle_per_second: float  # the quiet stack's CPU seconds a second, all processes
    stats_a: Stats
    a: Reading
    accepted: int = 0
    offered_for: float = 0.0
    behind: float = 0.0  # how late the open loop's latest vote went out (seconds)
    errors: dict[str, int] = field(default_factory=dict)
    settle: float | None = None  # seconds from the load's end until every vote was decided
    took: float = 0.0  # seconds from A to B
    b: Reading | None = None
    verify: float | None = None
    c: Reading | None = None
    stats_c: Stats | None = None

    @property
    def counted(self) -> int:
        return self.b.paid - self.a.paid if self.b else 0


async def reading(probe: Probe, channel: str, cpu_first: bool = True) -> Reading:
    """CPU first, then the counters (reading them costs the stand-ins and the web some CPU), or the other way."""
    cpu = cpu_seconds(probe.stack) if cpu_first else None
    found = await probe.counts()
    _, decided, paid = await probe.decided(channel)
    return Reading(cpu if cpu is not None else cpu_seconds(probe.stack), found, paid, decided)


async def warm_up(probe: Probe, channel: str, cast: Cast, load: Load, rate: float, seconds: float) -> str | None:
    """The same load, not measured, counted and verified; why the channel cannot be measured, if it cannot."""
    if (why := await primed(channel, probe.target)) is not None:
        return why
    _, decided, _ = await probe.decided(channel)
    await offer(cast, rate, seconds)
    if not load.placed:
        errors = ", ".join(f"{k} x{v}" for k, v in load.errors.items()) or "nothing offered"
        return f"no vote of its warm-up was taken ({errors})"
    await probe.settled(channel, decided, load.placed, timeout=60 + seconds)
    await probe.verified(channel, timeout=120 + load.placed / 5)
    return None


async def measure(probe: Probe, channel: str, rate: float, seconds: float, warmup: float) -> Phase | str:
    """One channel's phase (the module's docstring), or why it could not be measured."""
    load = Load()
    cast = caster(channel, probe.target, load)
    if (why := await warm_up(probe, channel, cast, load, rate, warmup)) is not None:
        return f"NOT MEASURED: {why}"
    quiet_from, quiet_at = cpu_seconds(probe.stack), time.monotonic()
    await asyncio.sleep(STATS_SETTLE_SECONDS)
    stats_a, a = await stats(probe.database), await reading(probe, channel, cpu_first=False)
    phase = Phase(channel, load.placed, (sum(a.cpu.values()) - sum(quiet_from.values())) /
                  (time.monotonic() - quiet_at), stats_a, a)
    errors_before, started = dict(load.errors), time.monotonic()
    phase.behind = await offer(cast, rate, seconds)
    phase.offered_for, phase.accepted = time.monotonic() - started, load.placed - phase.warm
    phase.errors = {k: v - errors_before.get(k, 0) for k, v in load.errors.items() if v > errors_before.get(k, 0)}
    phase.settle = await probe.settled(channel, a.decided, phase.accepted, timeout=60 + seconds)
    phase.took, phase.b = time.monotonic() - started, await reading(probe, channel)
    phase.verify = await probe.verified(channel, timeout=120 + phase.accepted / 5)
    phase.c = await reading(probe, channel)
    await asyncio.sleep(STATS_SETTLE_SECONDS)
    phase.stats_c = await stats(probe.database)
    return phase


def figures_of(phase: Phase, rate: float, seconds: float) -> dict[str, str]:
    assert phase.b is not None and phase.c is not None and phase.stats_c is not None
    channel, a, b, c, counted = phase.channel, phase.a, phase.b, phase.c, phase.counted
    idle_ms = phase.idle_per_second * phase.took * 1000 / max(counted, 1)
    errors = ", ".join(f"{k} x{v}" for k, v in phase.errors.items()) or "none"
    settled = f"the last {phase.settle:.1f} s after the load" if phase.settle is not None else "NOT ALL in time"
    verified = f"every vote {phase.verify:.0f} s after" if phase.verify is not None else "NOT ALL in time"
    return {
        f"{channel}: votes": (
            f"{rate:g}/s offered for {seconds:g} s, {phase.accepted} taken (the last answered "
            f"{phase.offered_for:.1f} s after the first was sent; sent late {lateness_said(phase.behind)}; "
            f"{phase.warm} before, in the warm-up), {counted} "
            f"counted ({b.decided - a.decided - counted} decided otherwise), {settled}; errors: {errors}; processes "
            f"replaced by `gateway run` as frozen: {replaced_line(a.counts, c.counts)}"),
        f"{channel}: CPU per counted vote, ms": (
            f"{cpu_per_item(a.cpu, b.cpu, counted)}; of it the idle stack's ~{idle_ms:.2f} ms "
            f"(its {phase.idle_per_second * 1000:.0f} ms a second, quiet before the phase)"),
        f"{channel}: requests per vote": requests_line(a.counts, b.counts, counted),
        f"{channel}: PostgreSQL per vote": (
            f"until counted: {database_line(a.counts, b.counts, counted)}; counted and verified: "
            f"{stats_line(phase.stats_a, phase.stats_c, counted)}"),
        f"{channel}: Redis per vote": redis_line(a.counts, b.counts, counted),
        f"{channel}: counted and verified": (
            f"{verified}; provider calls per vote {per_vote(a.counts.provider_calls, c.counts.provider_calls, counted)}"
            f"; CPU per vote, ms: {cpu_per_item(a.cpu, c.cpu, counted)}"),
    }


def cpu_ms(phase: Phase) -> float:
    """All processes' CPU per counted vote, until counted."""
    assert phase.b is not None
    return (sum(phase.b.cpu.values()) - sum(phase.a.cpu.values())) * 1000 / max(phase.counted, 1)


async def measure_all(stack: Stack, channels: list[str], rate: float, seconds: float,
                      warmup: float) -> dict[str, str]:
    figures: dict[str, str] = {}
    totals: dict[str, float] = {}
    async with probing(stack) as probe:
        await started_up(probe)
        for channel in channels:
            phase = await measure(probe, channel, rate, seconds, warmup)
            if isinstance(phase, str):
                figures[channel] = phase
                continue
            figures.update(figures_of(phase, rate, seconds))
            if phase.counted:
                totals[channel] = cpu_ms(phase)
    if "web" in totals:
        figures["all processes' CPU per counted vote beside web's"] = ", ".join(
            f"{channel} {ms:.1f} ms ({ms / totals['web']:.2f}x)" for channel, ms in totals.items())
    return figures


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.channels", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=40, help="votes a second offered on each channel (open loop)")
    parser.add_argument("--seconds", type=float, default=20, help="how long each channel's votes are offered")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of the same load first, not measured")
    parser.add_argument("--only", default=",".join(CHANNELS), help="the channels measured, in this order")
    parser.add_argument("--no-record", action="store_true", help="print the figures only (not into RESULTS.md)")
    args = parser.parse_args(argv)
    args.channels = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.channels) - set(CHANNELS))
    if unknown or not args.channels:
        parser.error(f"--only: {', '.join(unknown) or 'none given'}; the channels are {', '.join(CHANNELS)}")
    if args.rate <= 0 or args.seconds <= 0 or args.warmup <= 0:
        parser.error("--rate, --seconds and --warmup must be above 0")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with running_stack() as stack:
        load_average, machine_before, cpu_before, started = (os.getloadavg(), machine_cpu_seconds(),
                                                             cpu_seconds(stack), time.monotonic())
        figures = asyncio.run(measure_all(stack, args.channels, args.rate, args.seconds, args.warmup))
        figures["event-loop stalls (web processes)"] = loop_stalls(stack)
        figures["machine meanwhile"] = (
            f"load average {' '.join(f'{v:.1f}' for v in load_average)} at the start, "
            f"{' '.join(f'{v:.1f}' for v in os.getloadavg())} at the end; other processes took "
            f"{machine_share(machine_before, cpu_before, cpu_seconds(stack), time.monotonic() - started)}")
    title = (f"channels: CPU per counted vote on each channel's own path, {args.rate:g} votes/s offered for "
             f"{args.seconds:g} s each")
    markdown = print_report(title, figures)
    if not args.no_record:
        record("channels", markdown)


if __name__ == "__main__":
    main()
