"""Many live-board viewers on one web process: delivery latency of a change, and memory per connection.

    python -m bench.stream_load --url http://127.0.0.1:8080/api/v1/contests/demo/leaderboard/stream \\
        --pid <web process> --redis-url redis://... --contest-id 1 [--clients 10000] [--rounds 3]

It opens N Server-Sent Events connections (lean raw sockets, spread over source addresses 127.0.0.2,
127.0.0.3, ... so that the per-address stream limit and the ephemeral ports of one address are not
the bottleneck), waits until every one has its first board, reads the web process's VmRSS, then makes
the board change and times when each viewer receives the new version (p50/p99/max).

The change: with --redis-url and --contest-id (or --database-url to look the slug up), the cached board
is re-announced under a new version (leaderboard.cache.touch: the same Redis write and publish a vote's
refresh makes, minus the PostgreSQL read). With --trigger CMD, a shell command of yours makes it, and
its start-up time is part of the measured latency.

The web process needs a file limit above N (`ulimit -n 20000` before starting it); localhost only.
Targets: p99 < 1 s, < 20 KB of web-process RSS per connection.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from redis.asyncio import Redis
from sqlalchemy import select

from gateway.db.engine import create_engine
from gateway.db.models import Contest
from leaderboard.cache import touch

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Round:
    """One change: the version every viewer must see, when it was made, and when each viewer saw it."""

    target: int
    started: float
    latencies: list[float] = field(default_factory=list)
    everyone: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Viewers:
    count: int
    first_frames: int = 0
    failures: int = 0
    newest: int = 0
    all_connected: asyncio.Event = field(default_factory=asyncio.Event)
    current: Round | None = None

    def saw(self, version: int, seen_before: int) -> None:
        self.newest = max(self.newest, version)
        if seen_before == 0:
            self.first_frames += 1
            if self.first_frames + self.failures >= self.count:
                self.all_connected.set()
        round_ = self.current
        if round_ is not None and version >= round_.target > seen_before:
            round_.latencies.append(time.perf_counter() - round_.started)
            if len(round_.latencies) >= self.first_frames:
                round_.everyone.set()

    def failed(self) -> None:
        self.failures += 1
        if self.first_frames + self.failures >= self.count:
            self.all_connected.set()


def request_bytes(url: str) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    if parts.hostname not in LOCAL_HOSTS:
        raise SystemExit("stream_load only targets localhost")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    request = (f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n"
               "Cache-Control: no-cache\r\n\r\n").encode()
    return parts.hostname or "127.0.0.1", parts.port or 80, request


class ViewerProtocol(asyncio.Protocol):
    """One lean SSE client: a protocol, no task, looking only at `id:` lines. Each frame of the server
    starts `event: leaderboard\nid: ...`, so `\nid: ` finds them whatever the chunked encoding adds."""

    def __init__(self, request: bytes, viewers: Viewers, answered: asyncio.Future[bool]) -> None:
        self.request = request
        self.viewers = viewers
        self.answered = answered
        self.pending = b""
        self.seen = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if not self.answered.done():
            self.answered.set_result(data.startswith(b"HTTP/1.1 200 "))
            if not self.answered.result():
                print(f"viewer refused: {data[:200]!r}", file=sys.stderr)
                return
        buffer = self.pending + data
        end = buffer.rfind(b"\n") + 1
        self.pending = buffer[max(end - 1, 0):]  # from the last line break on: an `id:` may follow it
        start = 0
        while (found := buffer.find(b"\nid: ", start, end)) >= 0:
            line_end = buffer.index(b"\n", found + 1)
            version = self.version_of(buffer[found + 5:line_end])
            self.viewers.saw(version, self.seen)
            self.seen = max(self.seen, version)
            start = line_end

    def version_of(self, event_id: bytes) -> int:
        """A frame's `id:` as a number that grows with each frame (the board's version here)."""
        return int(event_id)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answered.done():
            self.answered.set_result(False)


async def viewer(host: str, port: int, request: bytes, source: str, viewers: Viewers,
                 gate: asyncio.Semaphore) -> asyncio.BaseTransport | None:
    """Connect one viewer (a few hundred at a time, not to overflow the server's listen backlog)."""
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[bool] = loop.create_future()
    try:
        async with gate:
            transport, _ = await asyncio.wait_for(loop.create_connection(
                lambda: ViewerProtocol(request, viewers, answered), host, port, local_addr=(source, 0)), 30)
            if await asyncio.wait_for(answered, 30):
                return transport
            transport.close()
    except (OSError, TimeoutError) as exc:
        if viewers.failures < 3:
            print(f"viewer failed: {exc!r}", file=sys.stderr)
    viewers.failed()
    return None


def raise_file_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else wanted
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(wanted, target)), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int | None) -> int | None:
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def file_limit_of(pid: int) -> int | None:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            value = line.split()[3]
            return int(value) if value.isdigit() else None
    return None


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


async def contest_id_from_database(database_url: str, url: str) -> int:
    slug = urlsplit(url).path.split("/contests/", 1)[1].split("/", 1)[0]
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            contest_id = await connection.scalar(select(Contest.id).where(Contest.slug == slug))
    finally:
        await engine.dispose()
    if contest_id is None:
        raise SystemExit(f"no contest {slug!r} in that database")
    return int(contest_id)


async def make_change(args: argparse.Namespace, redis: Redis | None, contest_id: int | None, newest: int) -> int:
    """Make the board change; returns the version every viewer must reach."""
    if redis is None:
        await asyncio.to_thread(subprocess.run, args.trigger, shell=True, check=True)
        return newest + 1  # any newer version will do
    version = await touch(redis, contest_id or 0)
    if version is None:
        raise SystemExit(f"Redis holds no board for contest {contest_id}: open the stream once first")
    return version


async def run_round(args: argparse.Namespace, viewers: Viewers, redis: Redis | None,
                    contest_id: int | None) -> dict[str, object]:
    round_ = Round(target=viewers.newest + 1, started=time.perf_counter())
    viewers.current = round_
    round_.target = await make_change(args, redis, contest_id, viewers.newest)
    try:
        await asyncio.wait_for(round_.everyone.wait(), args.timeout)
    except TimeoutError:
        pass
    viewers.current = None
    got = round_.latencies
    result: dict[str, object] = {"received": len(got), "missing": viewers.first_frames - len(got)}
    if got:
        result.update(p50_ms=round(statistics.median(got) * 1000, 1), p99_ms=round(percentile(got, 0.99) * 1000, 1),
                      max_ms=round(max(got) * 1000, 1))
    return result


async def main(args: argparse.Namespace) -> dict[str, object]:
    if not args.trigger and not args.redis_url:
        raise SystemExit("say how to change the board: --redis-url with --contest-id/--database-url, or --trigger")
    contest_id = args.contest_id
    if not args.trigger and contest_id is None:
        if not args.database_url:
            raise SystemExit("--contest-id or --database-url is needed with --redis-url")
        contest_id = await contest_id_from_database(args.database_url, args.url)
    limit = raise_file_limit(args.clients + 1024)
    if limit < args.clients + 64:
        raise SystemExit(f"file limit {limit} is too low for {args.clients} clients")
    if args.pid is not None and (server_limit := file_limit_of(args.pid)) is not None \
            and server_limit < args.clients + 64:
        raise SystemExit(f"the web process may open only {server_limit} files: start it under `ulimit -n`")
    host, port, request = request_bytes(args.url)
    sources = math.ceil(args.clients / args.per_source)
    if sources > 250:
        raise SystemExit("raise --per-source: only 127.0.0.2-127.0.0.251 are used as source addresses")
    viewers, gate = Viewers(args.clients), asyncio.Semaphore(args.connect_concurrency)
    rss_before = rss_kib(args.pid)
    started = time.perf_counter()
    tasks = [asyncio.create_task(viewer(host, port, request, f"127.0.0.{2 + i // args.per_source}", viewers,
                                        gate)) for i in range(args.clients)]
    try:
        await asyncio.wait_for(viewers.all_connected.wait(), args.connect_timeout)
    except TimeoutError:
        pass
    connect_seconds = time.perf_counter() - started
    gc.collect()
    gc.freeze()  # this client's own collector must not pause the measurement (the server's may: it counts)
    await asyncio.sleep(1)  # let the server settle (its first frames written, buffers released)
    rss_after = rss_kib(args.pid)
    redis = None if args.trigger else Redis.from_url(args.redis_url)
    rounds = []
    try:
        if redis is not None:
            await redis.ping()  # connected before the clock starts
        for _ in range(args.rounds):
            rounds.append(await run_round(args, viewers, redis, contest_id))
            await asyncio.sleep(args.pause)
    finally:
        if redis is not None:
            await redis.aclose()
    rss_end, rounds_seconds = rss_kib(args.pid), time.perf_counter() - started - connect_seconds
    for task in tasks:
        task.cancel()
    for transport in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(transport, asyncio.BaseTransport):
            transport.close()
    report: dict[str, object] = {
        "clients": args.clients, "connected": viewers.first_frames, "failed": viewers.failures,
        "connect_seconds": round(connect_seconds, 1), "rounds": rounds,
    }
    if rss_before is not None and rss_after is not None and viewers.first_frames:
        report.update(rss_before_mib=round(rss_before / 1024, 1), rss_after_mib=round(rss_after / 1024, 1),
                      kib_per_connection=round((rss_after - rss_before) / viewers.first_frames, 2))
    if rss_after is not None and rss_end is not None and viewers.first_frames:  # what the frames and time added
        report.update(kib_per_connection_later=round((rss_end - rss_after) / viewers.first_frames, 2),
                      later_seconds=round(rounds_seconds))
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.stream_load", description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="the stream URL on localhost")
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--per-source", type=int, default=50,
                        help="connections per source address (keep it within the server's streams per address)")
    parser.add_argument("--pid", type=int, help="the web process, for its RSS")
    parser.add_argument("--redis-url", help="the app's Redis: the change is made there")
    parser.add_argument("--contest-id", type=int, help="the contest of the URL (or give --database-url)")
    parser.add_argument("--database-url", help="to look the contest id up from the URL's slug")
    parser.add_argument("--trigger", help="a shell command that changes the board, instead of --redis-url")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between rounds (> the coalescing)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds a round waits for every viewer")
    parser.add_argument("--connect-timeout", type=float, default=120.0)
    parser.add_argument("--connect-concurrency", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def cli(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = asyncio.run(main(args))
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    rounds = [r for r in report["rounds"] if isinstance(r, dict)]  # type: ignore[union-attr]
    ok = report["failed"] == 0 and all(r.get("missing") == 0 for r in rounds)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(cli())
