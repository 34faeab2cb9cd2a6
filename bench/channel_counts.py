"""What a vote's path did, counted rather than guessed (`bench.channels`): the requests that reached the service by
route and those it made to the providers (its own /metrics, summed over its processes), the messages and Bot API
calls the stand-ins answered, PostgreSQL's writing transactions and WAL, its commits and rows, and Redis's commands.

Each is read before and after a channel's votes; the difference divided by the votes counted is the figure. The
writing transactions are read from the next transaction id to be assigned, exact at the moment it is read.
`pg_stat_database` and `pg_stat_wal` are not: a backend sends its counts at most once a second and an idle one only
after ~10 s, so those are read only once the stack has been quiet for `STATS_SETTLE_SECONDS` (at the start of a phase
and after its votes were counted and verified)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from assembly.machine.liveness import REPLACED

STATS_SETTLE_SECONDS = 11.0  # PostgreSQL's idle backends report their counts after 10 s (PGSTAT_IDLE_INTERVAL)
OWN_REQUESTS = ("/metrics",)  # this benchmark's own reads, not a vote's requests
OWN_COMMANDS = ("info",)
RQ_WORKERS = "rq:workers"  # rq.worker_registration.REDIS_WORKER_KEYS


@dataclass
class Counts:
    """Counters of the whole stack at one moment."""

    xids: int = 0  # the next transaction id to be assigned: transactions that wrote
    requests: Counter[str] = field(default_factory=Counter)  # "POST /route" -> served
    provider_calls: Counter[str] = field(default_factory=Counter)  # "mtn ok" -> made
    replaced: Counter[str] = field(default_factory=Counter)  # processes `gateway run` replaced as frozen, by kind
    commands: Counter[str] = field(default_factory=Counter)  # Redis command -> calls
    redis_usec: int = 0  # Redis's time inside commands
    rq_jobs: int = 0  # jobs the RQ workers finished (succeeded or failed)
    rq_seconds: float = 0.0  # their working time
    at_messages: int = 0  # SMS sent through the AT stand-in
    bot_calls: int = 0  # Bot API methods the bot called on its stand-in


@dataclass
class Stats:
    """PostgreSQL's cumulative statistics of the service's database (read once the stack was quiet)."""

    commits: int = 0  # every transaction committed, read-only ones included
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    wal_syncs: int = 0  # WAL flushes to disk (a group of commits may share one)
    full_pages: int = 0  # whole pages written to the WAL, each page's first change after a checkpoint
    wal_bytes: int = 0  # the records' (not the WAL position's: archive_timeout switches segments, skipping the rest)


@dataclass(frozen=True)
class StandIns:
    at_url: str
    bot_api_url: str


async def counts(database: asyncpg.Connection, redis: Redis, http: httpx.AsyncClient, base_url: str,
                 stand_ins: StandIns, own: Counter[str]) -> Counts:
    """The counters now; `own`: the Redis commands this benchmark's readings made so far (left out, and added to)."""
    xids = await database.fetchval("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
    info = await redis.info("commandstats")
    found = Counts(int(xids))
    found.commands, found.redis_usec = commands_of(info)
    found.commands.subtract(own)
    found.rq_jobs, found.rq_seconds = await rq_work(redis, own)
    found.requests, found.provider_calls, found.replaced = served_and_called(
        (await http.get(f"{base_url}/metrics")).text)
    found.at_messages = len((await http.get(f"{stand_ins.at_url}/messages")).json()["messages"])
    found.bot_calls = len((await http.get(f"{stand_ins.bot_api_url}/_calls")).json()["calls"])
    return found


async def stats(database: asyncpg.Connection) -> Stats:
    row = await database.fetchrow(
        "SELECT d.xact_commit, d.tup_inserted, d.tup_updated, d.tup_deleted, w.wal_sync, w.wal_fpi, w.wal_bytes "
        "FROM pg_stat_database d, pg_stat_wal w WHERE d.datname = current_database()")
    return Stats(*(int(value) for value in row.values()))


async def rq_work(redis: Redis, own: Counter[str]) -> tuple[int, float]:
    """Jobs the live RQ workers finished, and their working seconds (RQ keeps both in each worker's hash)."""
    jobs, seconds = 0, 0.0
    workers = await redis.smembers(RQ_WORKERS)
    own.update(smembers=1, hmget=len(workers))
    for key in workers:
        done, failed, working = await redis.hmget(key, "successful_job_count", "failed_job_count",
                                                  "total_working_time")
        jobs += int(done or 0) + int(failed or 0)
        seconds += float(working or 0)
    return jobs, seconds


def commands_of(info: dict[str, object]) -> tuple[Counter[str], int]:
    """Calls by command, and the microseconds spent in them, from Redis's INFO commandstats (as redis-py reads it:
    `cmdstat_<name>` -> {"calls": …, "usec": …})."""
    calls: Counter[str] = Counter()
    usec = 0
    for key, value in info.items():
        if key.startswith("cmdstat_") and isinstance(value, dict):
            name = key.removeprefix("cmdstat_")
            if name not in OWN_COMMANDS:
                calls[name] = int(value.get("calls", 0))
                usec += int(value.get("usec", 0))
    return calls, usec


def served_and_called(metrics: str) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Requests served by method and route, provider calls by provider and outcome, and processes replaced (as
    frozen) by kind, from /metrics' text."""
    served: Counter[str] = Counter()
    called: Counter[str] = Counter()
    replaced: Counter[str] = Counter()
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == "gateway_http_requests_total" and sample.labels["route"] not in OWN_REQUESTS:
                served[f"{sample.labels['method']} {sample.labels['route']}"] += int(sample.value)
            elif sample.name == "gateway_provider_calls_total":
                called[f"{sample.labels['provider']} {sample.labels['outcome']}"] += int(sample.value)
            elif sample.name == f"{REPLACED}_total":
                replaced[sample.labels["process"]] += int(sample.value)
    return served, called, replaced


def per_vote(before: Counter[str], after: Counter[str], votes: int, top: int = 6) -> str:
    """The busiest counters' growth per vote, "name 1.00, …" (those under 0.01 a vote left out)."""
    grown = after.copy()
    grown.subtract(before)
    shown = [(name, n / max(votes, 1)) for name, n in grown.most_common(top) if n / max(votes, 1) >= 0.01]
    return ", ".join(f"{name} {n:.2f}" for name, n in shown) or "none"


def requests_line(before: Counts, after: Counts, votes: int) -> str:
    jobs = after.rq_jobs - before.rq_jobs
    working = (after.rq_seconds - before.rq_seconds) * 1000 / max(jobs, 1)
    return (f"into the service: {per_vote(before.requests, after.requests, votes)}; RQ jobs "
            f"{jobs / max(votes, 1):.2f} ({working:.1f} ms of wall time each); to the providers: "
            f"{per_vote(before.provider_calls, after.provider_calls, votes)}; SMS through the AT stand-in "
            f"{(after.at_messages - before.at_messages) / max(votes, 1):.2f}, Bot API calls "
            f"{(after.bot_calls - before.bot_calls) / max(votes, 1):.2f}")


def database_line(before: Counts, after: Counts, votes: int) -> str:
    return f"transactions that wrote {(after.xids - before.xids) / max(votes, 1):.2f}"


def stats_line(before: Stats, after: Stats, votes: int) -> str:
    def each(name: str) -> str:
        return f"{(getattr(after, name) - getattr(before, name)) / max(votes, 1):.2f}"

    wal = (after.wal_bytes - before.wal_bytes) / max(votes, 1) / 1024
    return (f"commits {each('commits')} (read-only included), WAL flushes {each('wal_syncs')}, WAL {wal:.1f} KiB "
            f"({each('full_pages')} full-page images), rows inserted {each('inserted')}, updated {each('updated')}, "
            f"deleted {each('deleted')}")


def redis_line(before: Counts, after: Counts, votes: int) -> str:
    total = sum(after.commands.values()) - sum(before.commands.values())
    inside = (after.redis_usec - before.redis_usec) / max(votes, 1) / 1000
    return (f"{total / max(votes, 1):.1f} commands ({inside:.2f} ms inside them): "
            f"{per_vote(before.commands, after.commands, votes, top=5)}")


def replaced_line(before: Counts, after: Counts) -> str:
    """The processes `gateway run` replaced meanwhile (silent for 10 s: a loop blocked, or starved of CPU)."""
    grown = after.replaced.copy()
    grown.subtract(before.replaced)
    return ", ".join(f"{kind} {n}" for kind, n in sorted(grown.items()) if n > 0) or "none"
