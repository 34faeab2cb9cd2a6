"""The board over several fan-out servers: shards against one channel, then one server killed under the audience.

    python -m bench.fanout_failover [--clients 50000] [--processes 4] [--compare 20000] [--frame-seconds 0.25]
                                    [--no-record]

First, bare (no stack, as bench.fanout_servers), one nginx with Nchan and `--compare` viewers, the same ~2 KiB
board published every 250 ms: the board as one channel, then as one shard per worker. Figures: change -> every
viewer (p50/p99 over five timed rounds), nginx's memory per viewer, its CPU per frame, and each worker's share of
it (one channel's frames are its owner worker's work). Then two such servers sharing their channels in a Redis,
behind HAProxy (several, as a balancer's nodes are: one process may hold 20,000 files here), `--clients` viewers
spread over them; frames every `--frame-seconds` go to the balancers' publisher port (by default the board's busiest
pace, 250 ms: 50,000 viewers at that pace is more than this 2-core machine's CPU, see bench/RESULTS.md); one server
is killed (SIGKILL). Its viewers reconnect through the balancer after a browser's wait (EventSource's, up to
`--retry` seconds) with `Last-Event-ID`. Figures: how long each took to be served again (from the kill, and from its
own reconnect), frames missed (each viewer must have every frame published after the rounds began, once), and how
busy the machine was meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvloop

from assembly.machine import fanout_server
from assembly.machine.fanout_server import FanoutServer
from bench import stream_load
from bench.fanout_servers import PATH, Publish, publisher, wait_answering
from bench.harness import machine_cpu_seconds, print_report, record
from bench.stream_fanout import Load, browser_request, cpu_seconds, process_tree, pss_of, rounds, start_loads
from tests.leaderboard.nchan import Balancer, shared_redis, start_balancer, until_listening
from tests.servers import free_port

CHILD_FLAG = "--failover-child"
FRAME_SECONDS = 0.25
PER_BALANCER = 9_000  # viewers per HAProxy process: two files each, under this machine's 20,000 per process


# ---- a load process: viewers that reconnect as EventSource does ----

@dataclass
class Counts:
    received: int = 0  # frames newer than the one held when the parent said "arm"
    dropped_at: float | None = None
    retried_at: float | None = None
    back_at: float | None = None


@dataclass
class Crowd:
    retry: float
    connected: int = 0
    armed: bool = False
    viewers: list[Counts] = field(default_factory=list)
    refusals: dict[str, int] = field(default_factory=dict)  # status line (or connect error) -> how many, since "arm"


class Resuming(stream_load.ViewerProtocol):
    """A lean SSE client that, when its stream drops, connects again after a random wait with its last frame's id."""

    def __init__(self, target: tuple[str, int, bytes, str], crowd: Crowd, counts: Counts, last_id: bytes) -> None:
        super().__init__(self.request_with(target[2], last_id), stream_load.Viewers(1), asyncio.Future())
        self.target, self.crowd, self.counts, self.last_id = target, crowd, counts, last_id
        self.newest = 0

    @staticmethod
    def request_with(request: bytes, last_id: bytes) -> bytes:
        return request if not last_id else request.removesuffix(b"\r\n") + b"Last-Event-ID: " + last_id + b"\r\n\r\n"

    def data_received(self, data: bytes) -> None:
        buffer = self.pending + data
        if not self.answered.done():
            self.answered.set_result(True)
            if not data.startswith(b"HTTP/1.1 200 "):
                status = data.split(b"\r\n", 1)[0].decode(errors="replace")
                self.crowd.refusals[status] = self.crowd.refusals.get(status, 0) + 1
                return
        end = buffer.rfind(b"\n") + 1
        self.pending = buffer[max(end - 1, 0):]
        start = 0
        while (found := buffer.find(b"\nid: ", start, end)) >= 0:
            line_end = buffer.index(b"\n", found + 1)
            raw = buffer[found + 5:line_end].strip()
            seconds, _, tag = raw.partition(b":")
            number = int(seconds) * 100_000 + int(tag or 0)
            if number > self.newest:
                self.newest, self.last_id = number, raw
                if self.crowd.armed:
                    self.counts.received += 1
                if self.counts.dropped_at is not None and self.counts.back_at is None:
                    self.counts.back_at = time.time()
            start = line_end

    def connection_lost(self, exc: Exception | None) -> None:
        if self.counts.dropped_at is None:
            self.counts.dropped_at = time.time()
        asyncio.get_running_loop().call_later(self.crowd.retry * random.random(), self.again)

    def again(self) -> None:
        if self.counts.retried_at is None:
            self.counts.retried_at = time.time()
        asyncio.ensure_future(dial(self.target, self.crowd, self.counts, self.last_id, self.newest))


async def dial(target: tuple[str, int, bytes, str], crowd: Crowd, counts: Counts, last_id: bytes,
               newest: int = 0) -> bool:
    host, port, request, source = target
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await asyncio.wait_for(loop.create_connection(
            lambda: Resuming(target, crowd, counts, last_id), host, port, local_addr=(source, 0)), 30)
        protocol.newest = newest
        return True
    except (OSError, TimeoutError) as exc:
        crowd.refusals[type(exc).__name__] = crowd.refusals.get(type(exc).__name__, 0) + 1
        loop.call_later(crowd.retry, lambda: asyncio.ensure_future(dial(target, crowd, counts, last_id, newest)))
        return False


async def child(args: argparse.Namespace) -> None:
    stream_load.raise_file_limit(args.clients + 512)
    crowd = Crowd(args.retry)
    urls = args.url.split(",")
    gate = asyncio.Semaphore(200)

    async def one(i: int) -> None:
        host, port, request = browser_request(urls[i % len(urls)])
        counts = Counts()
        crowd.viewers.append(counts)
        async with gate:
            dialled = await dial((host, port, request, f"127.0.0.{args.first_source + i // 250}"), crowd, counts,
                                 b"")
        crowd.connected += dialled

    await asyncio.gather(*(one(i) for i in range(args.clients)))
    await asyncio.sleep(2)  # every first frame in
    print(json.dumps({"connected": crowd.connected}), flush=True)
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        if line == "arm":
            crowd.armed, crowd.refusals = True, {}
            for counts in crowd.viewers:
                counts.received, counts.dropped_at, counts.retried_at, counts.back_at = 0, None, None, None
            print(json.dumps({"armed": True}), flush=True)
        elif line == "report":
            print(json.dumps({"viewers": [[c.received, c.dropped_at, c.retried_at, c.back_at]
                                          for c in crowd.viewers], "refusals": crowd.refusals}), flush=True)


# ---- the parent ----

@contextlib.contextmanager
def nginx(server: FanoutServer) -> Iterator[subprocess.Popen[bytes]]:
    process = fanout_server.start(server, Path(tempfile.mkdtemp(prefix="ballot-fanout-")))
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


# What the run's frames carry, which each of its servers asks for (a web process's BOARD_FANOUT_SECRET).
PUBLISH_SECRET = secrets.token_urlsafe(32)


def bare_server(workers: int, shards: int, redis_url: str = "") -> FanoutServer:
    """Room on one server for every viewer: the spare's workers hold them all after the kill, unevenly (reuseport)."""
    return FanoutServer(listen=f"127.0.0.1:{free_port()}", publish_listen=f"127.0.0.1:{free_port()}",
                        service_url="", workers=workers, max_connections=30_000, shards=shards, redis_url=redis_url,
                        publish_secret=PUBLISH_SECRET, publish_allow=("127.0.0.0/8",))  # the balancers' sources


async def one_server(clients: int, processes: int, workers: int, shards: int) -> dict[str, object]:
    """`clients` viewers of a bare server whose boards are `shards` channels: latency, memory, CPU per worker."""
    server = bare_server(workers, shards)
    with nginx(server) as process:
        await wait_answering(server.publish_url + "demo")
        async with httpx.AsyncClient() as http:
            outcome, publish = await publisher(http, server.publish_url + "demo", PUBLISH_SECRET)
            await publish()
            pids = process_tree(process.pid)
            before = pss_of(pids)
            loads = await start_loads(server.stream_base + PATH, clients, processes, 2)
            connected = sum([int((await load.ask())["connected"]) for load in loads])  # type: ignore[call-overload]
            memory = pss_of(pids) - before
            results, cpu = await rounds(loads, publish, 5, pids)
            shares = await worker_shares([pid for pid in pids if pid != process.pid], publish, 40)
            await stop_loads(loads)
    worst = max((r.get("p99_ms", 0) for r in results), default=0)  # type: ignore[type-var]
    return {"connected": connected, "p99_ms": [r.get("p99_ms") for r in results], "worst_p99_ms": worst,
            "kib_per_viewer": round(memory / max(connected, 1), 2), "cpu_ms_per_frame": round(cpu * 1000, 2),
            "worker_ms_per_frame": shares}


async def worker_shares(workers: list[int], publish: Publish, frames: int) -> list[float]:
    """Each worker's CPU per frame over `frames` frames at the show's pace, its idle rate taken off."""
    start = {pid: cpu_seconds([pid]) for pid in workers}
    await asyncio.sleep(2)
    idle = {pid: (cpu_seconds([pid]) - start[pid]) / 2 for pid in workers}
    start, began = {pid: cpu_seconds([pid]) for pid in workers}, time.time()
    for _ in range(frames):
        await publish()
        await asyncio.sleep(FRAME_SECONDS)
    await asyncio.sleep(1)
    spent = time.time() - began
    return sorted((round((cpu_seconds([pid]) - start[pid] - idle[pid] * spent) * 1000 / frames, 2)
                   for pid in workers), reverse=True)


async def start_resuming(urls: list[str], clients: int, processes: int, retry: float) -> list[Load]:
    per_process = math.ceil(clients / processes)
    loads = []
    for i in range(processes):
        count = min(per_process, clients - i * per_process)
        loads.append(Load(await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.fanout_failover", CHILD_FLAG, "--url", ",".join(urls),
            "--clients", str(count), "--first-source", str(2 + i * math.ceil(per_process / 250)),
            "--retry", str(retry), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 26)))
    return loads


async def stop_loads(loads: list[Load]) -> None:
    for load in loads:
        assert load.process.stdin is not None
        load.process.stdin.close()
    await asyncio.gather(*(load.process.wait() for load in loads))


def balancers_for(clients: int, servers: tuple[FanoutServer, ...]) -> list[Balancer]:
    """One HAProxy per `PER_BALANCER` viewers, each towards each server from a source address of its own (64,000
    ports each: every viewer may land on one server)."""
    return [Balancer(servers, listen=f"127.0.0.1:{free_port()}", publish_listen=f"127.0.0.1:{free_port()}",
                     maxconn=PER_BALANCER + 500, sources=tuple(f"127.{20 + m}.{s}.1" for s in range(len(servers))))
            for m in range(math.ceil(clients / PER_BALANCER))]


async def at_pace(publish: Publish, frames: int, seconds: float) -> None:
    for _ in range(frames):
        await publish()
        await asyncio.sleep(seconds)


async def failover(clients: int, processes: int, workers: int, retry: float,
                   frame_seconds: float = FRAME_SECONDS) -> dict[str, object]:
    run = Path(tempfile.mkdtemp(prefix="ballot-failover-"))
    async with shared_redis(run / "redis") as store:
        doomed, spare = bare_server(workers, 0, store), bare_server(workers, 0, store)
        balancers = balancers_for(clients, (doomed, spare))
        with nginx(doomed) as doomed_process, nginx(spare) as spare_process:
            await wait_answering(doomed.publish_url + "demo")
            await wait_answering(spare.publish_url + "demo")
            haproxies = [start_balancer(b, run / f"balancer-{m}") for m, b in enumerate(balancers)]
            try:
                for balancer in balancers:
                    await until_listening(balancer.listen)
                async with httpx.AsyncClient() as http:
                    outcome, publish = await publisher(http, balancers[0].publish_url + "demo", PUBLISH_SECRET)
                    await publish()
                    pids = process_tree(doomed_process.pid) + process_tree(spare_process.pid)
                    before = pss_of(pids)
                    loads = await start_resuming([b.stream_base + PATH for b in balancers], clients, processes,
                                                 retry)
                    connected = sum([int((await load.ask())["connected"]) for load in loads])  # type: ignore
                    memory = pss_of(pids) - before
                    await asyncio.gather(*(load.ask("arm") for load in loads))
                    outcome[:] = [0, 0]
                    await at_pace(publish, 8, frame_seconds)
                    os.killpg(doomed_process.pid, signal.SIGKILL)
                    killed_at, busy_before = time.time(), machine_cpu_seconds()
                    await at_pace(publish, 40, frame_seconds)
                    busy = (machine_cpu_seconds() - busy_before) / (time.time() - killed_at) / (os.cpu_count() or 1)
                    reports = await settled(loads, outcome[0], retry + 3, 120)
                    await stop_loads(loads)
            finally:
                for process in haproxies:
                    process.terminate()
                    process.wait(10)
    viewers = [v for report in reports for v in report["viewers"]]  # type: ignore[attr-defined]
    refusals: dict[str, int] = {}
    for report in reports:
        for status, count in report["refusals"].items():  # type: ignore[attr-defined]
            refusals[status] = refusals.get(status, 0) + count
    return {**summary(viewers, connected, outcome, killed_at, memory, len(balancers)), "refusals": refusals,
            "busy": busy}


async def settled(loads: list[Load], published: int, first: float, most: float) -> list[dict[str, object]]:
    """The load processes' reports once every viewer has every frame published, or `most` seconds on: a viewer
    the kill dropped resumes from the channels' buffer of 40 frames, and one behind a busy server catches up."""
    await asyncio.sleep(first)
    waited = first
    while True:
        reports = [await load.ask("report") for load in loads]
        late = sum(1 for report in reports for v in report["viewers"]  # type: ignore[attr-defined]
                   if (v[1] is not None and v[3] is None) or int(v[0] or 0) < published)
        if not late or waited >= most:
            return reports
        await asyncio.sleep(5)
        waited += 5


def summary(viewers: list[list[float | None]], connected: int, outcome: list[int], killed_at: float,
            memory: int, balancers: int) -> dict[str, object]:
    published = outcome[0]
    moved = [v for v in viewers if v[1] is not None]
    back = [v for v in moved if v[3] is not None]
    from_kill = sorted(float(v[3]) - killed_at for v in back)  # type: ignore[arg-type]
    from_retry = sorted(float(v[3]) - float(v[2]) for v in back if v[2] is not None)  # type: ignore[arg-type]
    missed = [published - int(v[0] or 0) for v in viewers]

    def spread(values: list[float]) -> str:
        if not values:
            return "none"
        return (f"p50 {values[len(values) // 2]:.2f} s, p99 {stream_load.percentile(values, 0.99):.2f} s, "
                f"max {values[-1]:.2f} s")

    return {"connected": connected, "balancers": balancers, "published": published, "publish_failed": outcome[1],
            "kib_per_viewer": round(memory / max(connected, 1), 2), "moved": len(moved), "back": len(back),
            "from_kill": spread(from_kill), "from_retry": spread(from_retry),
            "missed": f"{sum(1 for m in missed if m > 0)} viewers missed frames (most {max(missed, default=0)}), "
                      f"{sum(1 for m in missed if m < 0)} got more than published (most {-min(missed, default=0)})"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--processes", type=int, default=4, help="load processes (each opens < 20,000 files)")
    parser.add_argument("--compare", type=int, default=20_000, help="viewers for shards against one channel (0: skip)")
    parser.add_argument("--workers", type=int, default=4, help="nginx workers per fan-out server")
    parser.add_argument("--retry", type=float, default=3.0, help="a browser's reconnection wait, at most (s)")
    parser.add_argument("--frame-seconds", type=float, default=FRAME_SECONDS,
                        help="between the failover's frames (the channels keep the newest 40: at most 40 s a frame)")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    figures: dict[str, str] = {}
    if args.compare:
        for shards in (1, args.workers):
            result = asyncio.run(one_server(args.compare, min(args.processes, 2), args.workers, shards))
            name = f"{args.compare} viewers, {shards} channel{'s' if shards > 1 else ''} per board"
            figures[f"{name}: change -> every viewer"] = f"p99 {result['p99_ms']} ms ({result['connected']} connected)"
            figures[f"{name}: nginx"] = (f"{result['kib_per_viewer']} KiB per viewer, {result['cpu_ms_per_frame']} ms "
                                         f"of CPU per frame, by worker {result['worker_ms_per_frame']} ms")
    result = asyncio.run(failover(args.clients, args.processes, args.workers, args.retry, args.frame_seconds))
    figures.update({
        "failover": f"two fan-out servers ({args.workers} workers, {bare_server(1, 0).shard_count} channel(s) a board) "
                    "sharing a Redis, "
                    f"behind {result['balancers']} HAProxy processes; one killed (SIGKILL) after 8 frames",
        "viewers": f"{result['connected']} of {args.clients} connected, {result['kib_per_viewer']} KiB per viewer "
                   "(both servers' nginx)",
        "frames": f"{result['published']} published every {args.frame_seconds * 1000:.0f} ms through the balancer, "
                  f"{result['publish_failed']} refused",
        "dropped by the kill": f"{result['moved']}, served again {result['back']}",
        "kill -> served again": str(result["from_kill"]),
        "reconnect -> served again": f"{result['from_retry']} (after a browser's wait of 0-{args.retry:.0f} s)",
        "frames missed": str(result["missed"]),
        "machine from the kill to the last frame": f"{result['busy']:.0%} of every core busy (benchmark, servers, "
                                                   "balancers and viewers together)",
        "refused on reconnecting": str(result["refusals"] or "none"),
    })
    markdown = print_report(f"the board over two fan-out servers, {args.clients} viewers, one killed", figures)
    if not args.no_record:
        record("fanout-failover", markdown)


def child_main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(CHILD_FLAG, action="store_true")
    parser.add_argument("--url", required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--first-source", type=int, required=True)
    parser.add_argument("--retry", type=float, required=True)
    uvloop.run(child(parser.parse_args()))  # the viewers' own CPU is not what is measured: the least of it


if __name__ == "__main__":
    child_main() if CHILD_FLAG in sys.argv else main()
