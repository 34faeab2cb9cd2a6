"""Confirmed payments per second through the whole path, against the machine's own ceiling.

Synthetic voters place orders through the JSON API; the provider's sandbox (MTN's unless `--provider`
says M-Pesa or Airtel: bench/vote_providers.py) approves each one and calls back; the app counts the
vote from the callback and queues it for a status check, which the provider's cap lets through at its
own pace: the backlog left at the end, and how fast it drains, are printed. Then pgbench runs a
transaction of the same shape (insert the payment event + update the tally) on the same PostgreSQL.

    python -m bench.votes [--seconds 30] [--voters 64]     # closed loop: the most it takes
    python -m bench.votes --rate 300 --seconds 60           # open loop: a show's last minutes
    python -m bench.votes --provider mpesa [--cap 1000]     # paid with M-Pesa (or airtel), its cap raised
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import httpx

from bench import plans, statements
from bench.harness import (
    PENDING_ORDERS,
    Stack,
    count_reaches,
    cpu_per_item,
    cpu_seconds,
    machine_cpu_seconds,
    machine_share,
    ms,
    percentile,
    print_report,
    record,
    running_stack,
)
from bench.open_loop import lateness_said, open_loop
from bench.vote_providers import PROVIDERS, PaidBy, callbacks_counted, next_payer

# The tables of CEILING_SCRIPT, in a database of their own.
CEILING_TABLES = ("CREATE TABLE events (id bigserial PRIMARY KEY, order_id uuid, body text, "
                  "received_at timestamptz DEFAULT now()); "
                  "CREATE TABLE tallies (candidate_id int PRIMARY KEY, votes bigint NOT NULL DEFAULT 0); "
                  "INSERT INTO tallies SELECT g, 0 FROM generate_series(1, 8) g;")
CEILING_SCRIPT = """\\set c random(1, 8)
BEGIN;
INSERT INTO events (order_id, body) VALUES (gen_random_uuid(), '{"status": "SUCCESSFUL", "amount": "100"}');
UPDATE tallies SET votes = votes + 1 WHERE candidate_id = :c;
END;
"""


@dataclass
class Load:
    placed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    frames: list[tuple[float, str]] = field(default_factory=list)  # (received at, board updated_at)
    cpu: str = ""  # CPU per confirmed vote, by process kind
    machine: str = ""  # the load average and the CPU other work took meanwhile
    written: str = ""  # PostgreSQL's transactions, WAL flushes and WAL bytes per vote
    behind: float | None = None  # an open loop's: how late its latest vote went out (seconds)


async def voter(client: aiohttp.ClientSession, paid_by: PaidBy, url: str, numbers: itertools.count[int],
                deadline: float, load: Load) -> None:
    """Closed loop: the next vote as soon as the last is answered (finds the most the stack takes)."""
    while time.time() < deadline:
        await cast_vote(client, paid_by, url, numbers, load)


async def cast_vote(client: aiohttp.ClientSession, paid_by: PaidBy, url: str, numbers: itertools.count[int],
                    load: Load) -> None:
    number = next_payer(numbers)
    body = paid_by.vote(number)
    # Voters reach us through our reverse proxy, each from their own address (the per-address
    # vote limit would otherwise count the whole benchmark as one voter).
    forwarded = {"X-Forwarded-For": f"41.202.{number // 250 % 250}.{number % 250 + 1}"}
    try:
        async with client.post(url, json=body, headers=forwarded) as response:
            await response.read()
            if response.status == 201:
                load.placed += 1
                return
            key = f"HTTP {response.status}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        key = type(exc).__name__
    load.errors[key] = load.errors.get(key, 0) + 1


async def watch_board(base_url: str, contest: str, deadline: float, load: Load) -> None:
    """One SSE viewer, recording when each board frame arrives (skipped if the stream is absent)."""
    url = f"{base_url}/api/v1/contests/{contest}/leaderboard/stream"
    try:
        async with httpx.AsyncClient(timeout=None) as client, client.stream("GET", url) as response:
            if response.status_code != 200:
                return
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    load.frames.append((time.time(), json.loads(line[5:])["updated_at"]))
                if time.time() > deadline:
                    return
    except httpx.HTTPError:
        return


async def drive(stack: Stack, paid_by: PaidBy, seconds: float, voters: int, rate: float | None = None,
                first_number: int = 1, cpu: Callable[[], dict[str, float]] | None = None) -> tuple[Load, float, float]:
    """`cpu`: CPU seconds so far by process kind (the stack's own processes, found by `cpu_seconds`, by default)."""
    read_cpu = cpu or (lambda: cpu_seconds(stack))
    async with httpx.AsyncClient(timeout=30) as control:  # approve fast: we measure our side, not the payer
        await control.post(f"{stack.sandbox_url}/_control", json={"success_delay": 0.05})
    load = Load()
    numbers = itertools.count(first_number)
    started = time.time()
    deadline = started + seconds
    # aiohttp's client, not httpx: the load generator shares the machine's cores with the stack,
    # and it costs a fraction of the CPU per request.
    connector = aiohttp.TCPConnector(limit=voters if rate is None else 0)
    url = f"{stack.base_url}/api/v1/contests/{paid_by.contest}/votes"
    written_before = await written(stack)
    cpu_before, machine_before, load_average = read_cpu(), machine_cpu_seconds(), os.getloadavg()
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as client:
        watcher = asyncio.create_task(watch_board(stack.base_url, paid_by.contest, deadline + 30, load))
        if rate is None:
            await asyncio.gather(*(voter(client, paid_by, url, numbers, deadline, load) for _ in range(voters)))
        else:
            load.behind = await open_loop(rate, deadline - time.time(),
                                          lambda: cast_vote(client, paid_by, url, numbers, load))
        await wait_settled(stack, load.placed, timeout=60)
        watcher.cancel()
    cpu_after = read_cpu()
    load.cpu = cpu_per_item(cpu_before, cpu_after, load.placed)
    load.written = per_vote(written_before, await written(stack), load.placed)
    load.machine = (f"load average {' '.join(f'{v:.1f}' for v in load_average)} at the start, "
                    f"{' '.join(f'{v:.1f}' for v in os.getloadavg())} at the end; other processes took "
                    f"{machine_share(machine_before, cpu_before, cpu_after, time.time() - started)}")
    return load, started, deadline


async def written(stack: Stack) -> dict[str, float]:
    """PostgreSQL's transactions ended (each autocommitted read is one too), WAL flushes and WAL bytes so far."""
    connection = await asyncpg.connect(stack.database_url)
    try:
        row = await connection.fetchrow(
            "SELECT (SELECT sum(xact_commit) FROM pg_stat_database)::float8 AS commits, wal_sync::float8 AS flushes, "
            "wal_bytes::float8 AS wal FROM pg_stat_wal")
        return dict(row) if row else {}
    finally:
        await connection.close()


def per_vote(before: dict[str, float], after: dict[str, float], votes: int) -> str:
    if not votes or not before:
        return "not measured"
    delta = {name: (after[name] - before[name]) / votes for name in before}
    return (f"{delta['commits']:.2f} transactions (reads included), {delta['flushes']:.2f} WAL flushes, "
            f"{delta['wal'] / 1024:.1f} KiB of WAL")


SPLIT_SECONDS = 15.0


async def placing_only(stack: Stack, paid_by: PaidBy, voters: int, seconds: float = SPLIT_SECONDS) -> str:
    """Where a vote's CPU goes: the same closed loop with the sandbox dropping every callback, so each order
    costs only its placing (the API call, the order's insert) and its start (the prompt to the provider); the rest of
    a confirmed vote's cost is its callback's (keeping, counting, the board). Run after the figures above
    are read: these orders stay pending."""
    async with httpx.AsyncClient(timeout=30) as control:
        await control.post(f"{stack.sandbox_url}/_control", json={"drop_callbacks": True})
    load = Load()
    # Numbers and addresses of their own (the per-number and per-address limits start afresh).
    numbers = itertools.count(5_025_000)
    url = f"{stack.base_url}/api/v1/contests/{paid_by.contest}/votes"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=voters),
                                     timeout=aiohttp.ClientTimeout(total=30)) as client:
        before = cpu_seconds(stack)
        deadline = time.time() + seconds
        await asyncio.gather(*(voter(client, paid_by, url, numbers, deadline, load) for _ in range(voters)))
        await asyncio.sleep(2)  # the last starts finish
        after = cpu_seconds(stack)
    return f"{load.placed} orders: {cpu_per_item(before, after, load.placed)}"


async def wait_settled(stack: Stack, placed: int, timeout: float) -> None:
    connection = await asyncpg.connect(stack.database_url)
    try:
        await count_reaches(connection, PENDING_ORDERS, lambda pending: pending == 0, timeout, every=0.5)
    finally:
        await connection.close()


async def measured(stack: Stack, load: Load, started: float, deadline: float) -> dict[str, str]:
    connection = await asyncpg.connect(stack.database_url)
    try:
        rows = await connection.fetch("""
            SELECT extract(epoch FROM o.decided_at)::float8 AS decided,
                   -- a start's own data kept on the way (M-Pesa, Airtel: `kept`) is no callback
                   extract(epoch FROM min(e.received_at) FILTER (WHERE e.outcome IS DISTINCT FROM 'kept'))::float8
                     AS first_callback
            FROM vote_orders o JOIN provider_events e ON e.order_id = o.id
            WHERE o.status = 'paid' GROUP BY o.id, o.decided_at""")
        statuses = dict(await connection.fetch("SELECT status::text, count(*) FROM vote_orders GROUP BY status"))
        # Ledger entries are never updated: each one's xmin is the transaction that counted it (group commit).
        per_commit = await connection.fetchval("SELECT count(*)::float8 / greatest(count(DISTINCT xmin::text), 1) "
                                               "FROM ledger_entries WHERE kind = 'counted'")
        invariant = await connection.fetchval("""
            SELECT bool_and(t.votes = coalesce(p.n, 0)) FROM tallies t LEFT JOIN (
              SELECT candidate_id, sum(quantity) n FROM vote_orders WHERE status = 'paid' GROUP BY candidate_id
            ) p ON p.candidate_id = t.candidate_id""")
    finally:
        await connection.close()
    warm = started + 5  # leave the first seconds out: connection pools filling up
    steady = [r for r in rows if warm <= r["decided"] <= deadline]
    warmed = [r for r in rows if r["first_callback"] and r["first_callback"] >= warm]  # as for the rate
    to_tally = [r["decided"] - r["first_callback"] for r in warmed]
    late = sum(1 for seconds in to_tally if seconds > CONFIRMED_WITHIN)
    to_frame = frame_latencies(warmed, load.frames)
    rate = len(steady) / max(1.0, deadline - warm)
    figures = {
        "orders placed": f"{load.placed} in {deadline - started:.0f} s",
        "confirmed payments per second (steady)": f"{rate:.1f}",
        "callback received -> tally committed (after the first 5 s)": spread(to_tally),
        f"confirmed within {CONFIRMED_WITHIN:g} s of their callback": (
            f"{1 - late / max(1, len(to_tally)):.1%} ({late} of {len(to_tally)} later; target >= 99%)"),
        "callback received -> SSE frame delivered (after the first 5 s)": spread(to_frame) if to_frame
        else "no stream in this build",
        "votes counted per commit (group commit)": f"{per_commit:.2f}",
        "final order statuses": ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
        "errors": ", ".join(f"{k} x{v}" for k, v in load.errors.items()) or "none",
        "tally invariant": "holds" if invariant else "BROKEN",
        "CPU per confirmed vote, ms": load.cpu,
        "PostgreSQL's writing per vote placed": load.written,
        "machine meanwhile": load.machine,
    }
    if load.behind is not None:
        figures["votes sent late against the open loop's schedule"] = lateness_said(load.behind)
    return {**figures, "_rate": str(rate)}


CONFIRMED_WITHIN = 2.0  # seconds from a callback to its vote on the board that a show can live with
BACKLOG = "SELECT count(*) FROM payment_verifications WHERE verified_at IS NULL"
DRAIN_WATCH_SECONDS = 20.0


async def verification_backlog(stack: Stack) -> str:
    """Callback-counted orders still awaiting their status check once the load is over, and how fast the
    status budget (MTN_MOMO_STATUS_CALLS_PER_SECOND; M-Pesa's and Airtel's request caps) works them off: the
    tail of a show's verification."""
    connection = await asyncpg.connect(stack.database_url)
    try:
        counted, waiting, oldest = await connection.fetchrow(
            "SELECT count(*), count(*) FILTER (WHERE verified_at IS NULL), "
            "extract(epoch FROM now() - min(queued_at) FILTER (WHERE verified_at IS NULL))::float8 "
            "FROM payment_verifications")
        if not waiting:
            return f"none left of {counted} callback-counted orders"
        done_before = counted - waiting
        await asyncio.sleep(DRAIN_WATCH_SECONDS)
        # Verified in the meantime (orders still being counted join the queue as it drains).
        total, left = await connection.fetchrow(f"SELECT count(*), ({BACKLOG}) FROM payment_verifications")
    finally:
        await connection.close()
    rate = (total - left - done_before) / DRAIN_WATCH_SECONDS
    clear = f"~{left / rate:.0f} s more to clear" if rate > 0 else "not draining"
    return (f"{waiting} of {counted} callback-counted orders at the end of the load (oldest {oldest:.0f} s); "
            f"verified at {rate:.1f}/s over the next {DRAIN_WATCH_SECONDS:g} s, {clear}")


def spread(values: list[float]) -> str:
    return f"p50 {ms(percentile(values, 50))}, p99 {ms(percentile(values, 99))}, n={len(values)}"


def frame_latencies(rows: list[asyncpg.Record], frames: list[tuple[float, str]]) -> list[float]:
    """For each counted vote, the first board frame built after its commit, minus its first callback."""
    from datetime import datetime

    built = sorted((datetime.fromisoformat(updated).timestamp(), received) for received, updated in frames)
    result = []
    for row in rows:
        later = next((received for built_at, received in built if built_at >= row["decided"]), None)
        if later is not None and row["first_callback"]:
            result.append(later - row["first_callback"])
    return result


async def by_statement(stack: Stack, paid_by: PaidBy, seconds: float, voters: int) -> str:
    """The closed loop again, its PostgreSQL CPU told by statement (its connections warm from the run before)."""
    start = await statements.statement_stats(stack, on=True)
    before = statements.postgres_by_process(stack)
    load, _, _ = await drive(stack, paid_by, seconds, voters, first_number=3_000_000)
    after = statements.postgres_by_process(stack)
    end = await statements.statement_stats(stack, on=False)
    found = statements.read_statements(statements.server_log(stack), start, end)
    spent = {kind: after[kind] - before.get(kind, 0.0) for kind in after}
    return "".join(f"\n  - {line}" for line in statements.report(found, load.placed, spent).splitlines())


def pgbench_ceiling(stack: Stack, seconds: int) -> tuple[float, float]:
    """Transactions per second of the same write shape on the same PostgreSQL, and PostgreSQL's CPU
    milliseconds per transaction (to set beside its CPU per confirmed vote)."""
    import pgserver

    bin_dir = Path(pgserver.__file__).parent / "pginstall" / "bin"
    host = str(stack.data_dir / "postgres")
    psql = [str(bin_dir / "psql"), "-h", host, "-U", "postgres", "-q"]
    subprocess.run([*psql, "-d", "postgres", "-c", "CREATE DATABASE ceiling"], check=True)
    subprocess.run([*psql, "-d", "ceiling", "-c", CEILING_TABLES], check=True)
    script = stack.data_dir / "ceiling.sql"
    script.write_text(CEILING_SCRIPT)
    cores = os.cpu_count() or 1
    postgres_before = cpu_seconds(stack).get("PostgreSQL", 0.0)
    result = subprocess.run([str(bin_dir / "pgbench"), "-h", host, "-U", "postgres", "-n", "-c", str(4 * cores),
                             "-j", str(cores), "-T", str(seconds), "-f", str(script), "ceiling"],
                            capture_output=True, text=True, check=True)
    postgres_cpu = cpu_seconds(stack).get("PostgreSQL", 0.0) - postgres_before
    match = re.search(r"tps = ([0-9.]+)", result.stdout)
    done = re.search(r"number of transactions actually processed: (\d+)", result.stdout)
    per_transaction = postgres_cpu * 1000 / int(done.group(1)) if done and int(done.group(1)) else float("nan")
    return (float(match.group(1)) if match else float("nan")), per_transaction


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.votes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--voters", type=int, default=64, help="concurrent synthetic voters (closed loop)")
    parser.add_argument("--rate", type=float, help="votes per second arriving whatever the answers' pace "
                        "(open loop, for latencies below capacity); recorded as its own section")
    parser.add_argument("--provider", choices=sorted(PROVIDERS), default="mtn", help="who pays the votes, against "
                        "its own sandbox (bench/vote_providers.py: the contest, the payers' numbers, the cap)")
    parser.add_argument("--cap", type=float, metavar="PER_SECOND", help="M-Pesa's or Airtel's request cap for this "
                        "run (MPESA_REQUESTS_PER_SECOND, AIRTEL_MONEY_REQUESTS_PER_SECOND): raised, the stack's own "
                        "cost per vote; left at its default, a closed loop measures the cap")
    parser.add_argument("--ceiling-seconds", type=int, default=15)
    parser.add_argument("--statements", type=float, default=0, metavar="SECONDS",
                        help="then a closed loop this long, its PostgreSQL CPU told by statement")
    parser.add_argument("--plans", action="store_true", help="then the counting statement's plan, part by "
                        "part (EXPLAIN ANALYZE on orders left pending, rolled back)")
    parser.add_argument("--section", help="its section of RESULTS.md (e.g. a run beside other work, as bench.transcode "
                        "makes); by default `votes`, or `votes-<provider>` (`-raised-cap` with --cap), and "
                        "`votes-open` for an open loop")
    args = parser.parse_args(argv)
    if args.cap is not None and not PROVIDERS[args.provider].cap_setting:
        parser.error(f"--cap: {args.provider} has no request cap of ours to raise")
    args.open_section = args.section  # an open loop's, when named
    if args.section is None:
        args.section = "votes" if args.provider == "mtn" else f"votes-{args.provider}"
        args.section += "-raised-cap" if args.cap is not None else ""
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    paid_by = PROVIDERS[args.provider]
    with running_stack(sandbox_env=lambda sandbox_url: paid_by.environment(sandbox_url, args.cap)) as stack:
        asyncio.run(paid_by.accept_on_contest(stack.database_url))
        load, started, deadline = asyncio.run(drive(stack, paid_by, args.seconds, args.voters, args.rate))
        figures = {"paid with": f"{args.provider} against its sandbox, contest {paid_by.contest}, payers "
                   f"{paid_by.payer(0)[:-7]}…", "provider's request cap": paid_by.cap_figure(args.cap),
                   **asyncio.run(measured(stack, load, started, deadline)),
                   **asyncio.run(callbacks_counted(stack.database_url, args.provider))}
        figures["verification backlog"] = asyncio.run(verification_backlog(stack))
        if args.statements:
            figures["PostgreSQL CPU by statement (a later closed loop), per confirmed vote"] = asyncio.run(
                by_statement(stack, paid_by, args.statements, args.voters))
        if args.rate is None:
            figures["CPU per order placed and started, its callback dropped, ms"] = asyncio.run(
                placing_only(stack, paid_by, args.voters))
            if args.plans:  # placing_only's orders are pending
                figures["The counting statement's plan, per count"] = "".join(
                    f"\n  - {line}" for line in plans.report(asyncio.run(plans.counting_plans(stack.database_url)))
                    .splitlines())
        ceiling, pgbench_cpu = pgbench_ceiling(stack, args.ceiling_seconds) if args.rate is None else (None, 0.0)
    rate = float(figures.pop("_rate"))
    if ceiling is None:  # an offered rate says nothing about the most the stack takes
        section = args.open_section or "votes-open" + ("" if args.provider == "mtn" else f"-{args.provider}")
        record(section, print_report(f"votes: {args.rate:g} votes/s offered (open loop, {args.provider})", figures))
        return
    # What the database could do for writes of a vote's shape, beside what it does for ours: the rate is
    # bounded by the web processes' CPU, so this ceiling is context, not a target.
    figures["pgbench (insert event + update tally), same PostgreSQL"] = (
        f"{ceiling:.0f} tps, PostgreSQL CPU {pgbench_cpu:.2f} ms per transaction; "
        f"our rate is {rate / ceiling:.1%} of it")
    title = "votes: confirmed payments end to end" + ("" if args.section == "votes" else f" ({args.section})")
    record(args.section, print_report(title, figures))


if __name__ == "__main__":
    main()
