"""Verifying at show scale: how much of an hour's show at 200 votes a second the status calls verify, and how soon
they find a forgery, at MTN's cap and at raised ones.

    python -m bench.verification [--scale 60] [--rate 200] [--caps 10,50,100] [--forged 6] [--seed 1] [--no-record]

The show (`bench.verification_show`) is written into an embedded PostgreSQL as its callbacks would have left it,
compressed `--scale` times (one second here is that many seconds of show, with that many times fewer orders: the
cap's share is the real one). The real verification pass runs against the local MTN sandbox enforcing the cap (429
past it): a web process's `VerificationLoop` (its ranking pass) beside the reconciler's (`verify_due`), both on the
turns of 90% of the cap no pending order's check takes (none here), paced through Redis, from the show's first second
until an hour (scaled) after its end. Each cap is run with the ranked order; MTN's own cap also oldest first, as the
queue was read before it was ranked.
Printed: the share of orders and of money verified an hour after the show, the suspects' (ranked) share, and when
each forged order was found (in show time)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from redis.asyncio import Redis
from sqlalchemy import make_url, select, text

from assembly.channel_list import MIGRATIONS
from assembly.machine.embedded import service_urls
from assembly.resources.providers import build_providers
from assembly.settings import Settings
from bench.harness import free_port, print_report, record
from bench.verification_show import PRICE, Show, ShowOrder, plan_show, seed_forged, seed_genuine, seed_history
from gateway.core.money_in.verification.by_status import verify_due
from gateway.core.money_in.verification.loop import VerificationLoop
from gateway.core.money_in.verification.priority import SUSPECT_FLOOR, ClaimTurns
from gateway.core.orders.counting import FIRST_VERIFY_AFTER
from gateway.core.providers import Collection, PaymentProvider, Providers
from gateway.db.engine import Sessions, create_engine, session_factory
from gateway.db.migrate import upgrade_async
from gateway.db.models import Candidate, Contest, ContestStatus
from gateway.db.seed import ensure_tallies
from gateway.jobs.redis_connections import async_client
from gateway.kit.status_pacing import spare_pace
from payments.sandbox import SandboxControl, create_sandbox_app

SHOW_SECONDS = 3600.0  # the real show's length
AFTER_SECONDS = 3600.0  # measured this long after it ends
RECONCILER_EVERY = 1.0  # seconds between the reconciler's verification passes here (its own pass's share)
SEED_EVERY = 0.1  # seconds between the seeder's batches of arrived orders


@dataclass(frozen=True)
class Run:
    cap: float
    oldest_only: bool = False

    @property
    def label(self) -> str:
        return f"cap {self.cap:g}/s, {'oldest first (as before)' if self.oldest_only else 'ranked'}"


@dataclass
class StatusCalls:
    """The sandbox's count of MTN status GETs, and of those it refused over its cap (429)."""

    asked: int = 0
    refused: int = 0

    def middleware(self) -> Middleware:
        @web.middleware
        async def counted(request: web.Request, handler: Handler) -> web.StreamResponse:
            response = await handler(request)
            if request.method == "GET" and "/requesttopay/" in request.path:
                self.asked += 1
                self.refused += response.status == 429
            return response

        return counted


async def request_payments(provider: PaymentProvider, orders: list[ShowOrder]) -> None:
    """Every genuine order's request-to-pay, made at the sandbox (its status GET then finds it SUCCESSFUL)."""
    gate = asyncio.Semaphore(32)

    async def start(order: ShowOrder) -> None:
        async with gate:
            await provider.start(Collection(order.order_id, order.reference, order.amount, "XAF", order.msisdn,
                                            "Bench show vote", "ussd"))

    await asyncio.gather(*(start(order) for order in orders if order.forged is None))


async def new_database(admin_url: str, name: str) -> str:
    admin = make_url(admin_url).set(drivername="postgresql")
    connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    await upgrade_async(url, MIGRATIONS)
    return url


async def make_contest(sessions: Sessions) -> tuple[int, int]:
    async with sessions.begin() as session:
        now = await session.scalar(select(text("now()")))
        contest = Contest(slug="show-scale", name="Show at scale", status=ContestStatus.OPEN,
                          opens_at=now - timedelta(days=60), closes_at=now + timedelta(days=1), price_per_vote=PRICE,
                          currency="XAF", max_votes_per_order=100, providers=["mtn"])
        session.add(contest)
        await session.flush()
        candidate = Candidate(contest_id=contest.id, code="01", name="Candidate 01")
        session.add(candidate)
        await session.flush()
        await ensure_tallies(session, contest.id)
        return contest.id, candidate.id


async def seed_show(sessions: Sessions, show: Show, contest: tuple[int, int], scale: float) -> None:
    """The show's orders arriving as their callbacks were counted, at the scaled rate."""
    first_wait = FIRST_VERIFY_AFTER / scale
    started, index = time.monotonic(), 0
    while index < len(show.orders):
        elapsed = time.monotonic() - started
        arrived = []
        while index < len(show.orders) and show.orders[index].at <= elapsed:
            arrived.append(show.orders[index])
            index += 1
        await seed_genuine(sessions, [order for order in arrived if order.forged is None], *contest, first_wait)
        for order in arrived:
            if order.forged is not None:
                await seed_forged(sessions, order, *contest, first_wait)
        await asyncio.sleep(SEED_EVERY)


async def reconciler_share(sessions: Sessions, registry: Providers, redis: Redis, turns: ClaimTurns | None) -> None:
    while True:
        await verify_due(sessions, registry, pace=spare_pace(redis), limit=1000, turns=turns)
        await asyncio.sleep(RECONCILER_EVERY)


@dataclass(frozen=True)
class Sandbox:
    url: str
    control: SandboxControl
    calls: StatusCalls


async def run_show(urls: tuple[str, str], sandbox: Sandbox, show: Show, run: Run, scale: float,
                   data: Path) -> dict[str, str]:
    database_url, redis_url = urls
    engine = create_engine(database_url, pool_size=8)
    sessions = session_factory(engine)
    redis = async_client(redis_url)  # the service's own client: a cancel ends its loops (redis_connections)
    await redis.flushdb()
    sandbox.control.status_calls_per_second = run.cap
    settings = Settings(_env_file=None, database_url=database_url, redis_url=redis_url, sandbox_url=sandbox.url,
                        mtn_momo_status_calls_per_second=run.cap, gateway_data_dir=data)
    sandbox.calls.asked = sandbox.calls.refused = 0
    async with httpx.AsyncClient(timeout=10) as http:
        registry = build_providers(settings, http, redis=redis)
        contest = await make_contest(sessions)
        await seed_history(sessions, show, *contest)
        turns = (lambda: ClaimTurns(every=1)) if run.oldest_only else (lambda: None)
        loop = VerificationLoop(sessions, registry, spare_pace(redis), lambda: None, turns=turns())
        async with sessions() as session:
            show_start = await session.scalar(select(text("now()")))
        tasks = [asyncio.create_task(seed_show(sessions, show, contest, scale)),
                 asyncio.create_task(reconciler_share(sessions, registry, redis, turns()))]
        loop.start()
        await asyncio.sleep(show.seconds + AFTER_SECONDS / scale)
        figures = await measured(sessions, show, show_start, scale, sandbox.calls)
        await loop.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await registry.aclose()
    await redis.aclose()
    await engine.dispose()
    return figures


QUEUE_FIGURES = text("""
SELECT count(*) AS orders, coalesce(sum(o.amount), 0) AS amount,
       count(*) FILTER (WHERE q.verified_at IS NOT NULL) AS verified,
       coalesce(sum(o.amount) FILTER (WHERE q.verified_at IS NOT NULL), 0) AS verified_amount,
       count(*) FILTER (WHERE q.priority >= :suspect) AS suspects,
       count(*) FILTER (WHERE q.priority >= :suspect AND q.verified_at IS NOT NULL) AS suspects_verified,
       coalesce(sum(o.amount) FILTER (WHERE q.priority >= :suspect), 0) AS suspects_amount,
       coalesce(sum(o.amount) FILTER (WHERE q.priority >= :suspect AND q.verified_at IS NOT NULL), 0)
           AS suspects_verified_amount,
       count(*) FILTER (WHERE q.outcome LIKE 'disagreed%') AS disagreed
FROM payment_verifications q JOIN vote_orders o ON o.id = q.order_id""")
FORGED_FOUND = text("""
SELECT o.id, q.verified_at, q.outcome FROM payment_verifications q JOIN vote_orders o ON o.id = q.order_id
WHERE o.provider_txn_id = 'forged-txn'""")


async def measured(sessions: Sessions, show: Show, show_start: datetime, scale: float,
                   calls: StatusCalls) -> dict[str, str]:
    async with sessions() as session:
        row = (await session.execute(QUEUE_FIGURES, {"suspect": SUSPECT_FLOOR})).one()
        found = {found.id: found for found in (await session.execute(FORGED_FOUND)).all()}

    def in_show(at: datetime) -> float:  # show minutes
        return (at - show_start).total_seconds() * scale / 60

    forged = [order for order in show.orders if order.forged is not None]
    lines, first = [], None
    for order in forged:
        seen = found.get(order.order_id)
        counted = order.at * scale / 60
        if seen is not None and seen.verified_at is not None and (seen.outcome or "").startswith("disagreed"):
            minute = in_show(seen.verified_at)
            first = minute if first is None else min(first, minute)
            lines.append(f"{order.forged} ({order.quantity} votes) counted at minute {counted:.0f}, "
                         f"found at {minute:.0f}")
        else:
            lines.append(f"{order.forged} ({order.quantity} votes) counted at minute {counted:.0f}, not found")

    def share(part: int, whole: int) -> str:
        return f"{100 * part / whole:.1f}%" if whole else "-"

    return {
        "orders verified an hour after the show": f"{share(row.verified, row.orders)} ({row.verified} of "
                                                  f"{row.orders} in the run; x{scale:g} in the show)",
        "money verified an hour after the show": f"{share(row.verified_amount, row.amount)} "
                                                 f"({int(row.verified_amount)} of {int(row.amount)} XAF in the run)",
        "suspects (ranked) verified": f"{share(row.suspects_verified, row.suspects)} of {row.suspects} orders, "
                                      f"{share(row.suspects_verified_amount, row.suspects_amount)} of their money",
        "first forgery found": "none" if first is None else f"show minute {first:.0f}",
        "forgeries found": f"{row.disagreed} of {len(forged)}: " + "; ".join(lines),
        "status calls": f"{calls.asked} made, {calls.refused} refused over the cap (429)",
    }


async def bench(args: argparse.Namespace, database_url: str, redis_url: str, data: Path) -> dict[str, str]:
    show = plan_show(args.seed, args.rate, SHOW_SECONDS, args.scale, args.forged)
    runs = [Run(args.caps[0], oldest_only=True)] + [Run(cap) for cap in args.caps]
    control, calls = SandboxControl(success_delay=0.01, drop_callbacks=True), StatusCalls()
    app = create_sandbox_app(control)
    app.middlewares.append(calls.middleware())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    sandbox_url = f"http://127.0.0.1:{port}"
    figures: dict[str, str] = {
        "show": f"{len(show.orders)} callback-counted orders over {show.seconds:g} s here = {args.rate:g} votes/s "
                f"for {SHOW_SECONDS / 60:g} minutes of show, time x{args.scale:g}; measured {AFTER_SECONDS / 60:g} "
                f"show minutes after its end; {args.forged} forged"}
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            settings = Settings(_env_file=None, database_url=database_url, redis_url=redis_url,
                                sandbox_url=sandbox_url, gateway_data_dir=data)
            registry = build_providers(settings, http)
            began = time.monotonic()
            await request_payments(registry.get("mtn"), show.orders)
            print(f"{len(show.orders)} request-to-pays made at the sandbox in {time.monotonic() - began:.0f} s")
            await registry.aclose()
        for number, run in enumerate(runs):
            url = await new_database(database_url, f"show_scale_{number}")
            print(f"running: {run.label}")
            for key, value in (await run_show((url, redis_url), Sandbox(sandbox_url, control, calls), show, run,
                                              args.scale, data)).items():
                figures[f"{run.label}: {key}"] = value
                print(f"  {key}: {value}")
    finally:
        await runner.cleanup()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", type=float, default=60, help="show seconds per second of the run")
    parser.add_argument("--rate", type=float, default=200, help="callback-counted orders a second in the show")
    parser.add_argument("--caps", type=lambda v: [float(c) for c in v.split(",")], default=[10.0, 50.0, 100.0],
                        help="MTN's status calls a second, the first also run oldest first")
    parser.add_argument("--forged", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-record", dest="record", action="store_false", help="leave bench/RESULTS.md alone")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the run's own warnings (a 429, a late turn) are counted, not read
    data = Path(tempfile.mkdtemp(prefix="ballot-verification-", dir="/tmp"))
    try:
        with service_urls(None, None, data) as urls:
            figures = asyncio.run(bench(args, urls.database_url, urls.redis_url, data))
    finally:
        shutil.rmtree(data, ignore_errors=True)
    report = print_report(f"verification at show scale ({args.rate:g} votes/s for an hour, time x{args.scale:g})",
                          figures)
    if args.record:
        record("verification-scale", report)


if __name__ == "__main__":
    main()
