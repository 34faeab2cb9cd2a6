"""Tens of thousands of live-board viewers through the fan-out server (nginx with Nchan) in front of the stack.

    python -m bench.stream_fanout [--clients 50000] [--processes 4] [--rounds 5] [--show 60] [--no-record]

The whole stack runs with BOARD_FANOUT_URL naming an nginx with Nchan started here (4 workers: a process may
open at most 20,000 files on this machine). The viewers are lean SSE clients (bench.stream_load's), spread over
several load processes and over the source addresses 127.0.0.2, 127.0.0.3, … (one address has ~28,000 ephemeral
ports towards one server port). Each round re-announces the board in Redis as a vote's refresh does; the web
process that holds the lease renders it once and posts it to Nchan, which writes it to every viewer. Figures:
change -> every viewer (p50/p99/max, over all load processes: arrival wall times against the change's), nginx's
memory per viewer (its processes' proportional set size) once connected, and what the timed frames and then
`--show` seconds of a frame every 250 ms added to it, and the web processes' CPU per frame with a small audience
and with the whole one. Targets: p99 < 1 s, <= 10 KiB per viewer and no growth with frames or time connected, CPU per
frame independent of the audience.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from assembly.machine import fanout_server
from bench import stream_load
from bench.harness import print_report, record, running_stack
from tests.servers import free_port

CHILD_FLAG = "--child"
IDLE_SECONDS = 3.0
FRAME_SECONDS = 0.25  # the board's pace at its busiest: the hub and the publisher coalesce to a frame per 250 ms


# ---- a load process: N viewers, told by the parent on stdin when a round starts and when to report ----

class Crowd(stream_load.Viewers):
    """Viewers that note the wall time of each one's first newer frame after `arm`."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.target = 0
        self.arrivals: list[float] = []
        self.armed = False

    def saw(self, version: int, seen_before: int) -> None:
        self.newest = max(self.newest, version)
        if seen_before == 0:
            self.first_frames += 1
            if self.first_frames + self.failures >= self.count:
                self.all_connected.set()
        elif self.armed and version >= self.target > seen_before:
            self.arrivals.append(time.time())


def event_number(raw: bytes) -> int:
    """Nchan's message ids are `<time>:<tag>`: comparable as one number."""
    seconds, _, tag = raw.partition(b":")
    return int(seconds) * 100_000 + int(tag or 0)


class FanoutViewer(stream_load.ViewerProtocol):
    def version_of(self, event_id: bytes) -> int:
        return event_number(event_id)


def browser_request(url: str) -> tuple[str, int, bytes]:
    """What a phone's browser sends for the page's EventSource (~500 bytes with the site's cookies): the server's
    memory per viewer depends on it."""
    host, port, request = stream_load.request_bytes(url)
    extra = ("User-Agent: Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/131.0.0.0 Mobile Safari/537.36\r\n"
             "Accept-Language: fr-CM,fr;q=0.9,en-US;q=0.8,en;q=0.7\r\nAccept-Encoding: gzip, deflate\r\n"
             f"Referer: http://{host}:{port}/c/demo\r\nConnection: keep-alive\r\n"
             "Cookie: ballot_csrf=Xq2v9Lr0bS8wTn4kP1yZcH7uJ3mF6aGdE5tR-oWiVsQ; ballot_lang=fr\r\n\r\n")
    return host, port, request.removesuffix(b"\r\n") + extra.encode()


async def connect(url: str, crowd: Crowd, first_source: int, per_source: int) -> list[asyncio.BaseTransport]:
    host, port, request = browser_request(url)
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(200)
    transports: list[asyncio.BaseTransport] = []

    async def one(i: int) -> None:
        answered: asyncio.Future[bool] = loop.create_future()
        try:
            async with gate:
                transport, _ = await asyncio.wait_for(loop.create_connection(
                    lambda: FanoutViewer(request, crowd, answered), host, port,
                    local_addr=(f"127.0.0.{first_source + i // per_source}", 0)), 30)
                if await asyncio.wait_for(answered, 30):
                    transports.append(transport)
                    return
                transport.close()
        except (OSError, TimeoutError) as exc:
            if crowd.failures < 3:
                print(f"viewer failed: {exc!r}", file=sys.stderr)
        crowd.failed()

    await asyncio.gather(*(one(i) for i in range(crowd.count)))
    with_first = asyncio.wait_for(crowd.all_connected.wait(), 60)
    await asyncio.gather(with_first, return_exceptions=True)
    return transports


async def child(args: argparse.Namespace) -> None:
    stream_load.raise_file_limit(args.clients + 512)
    crowd = Crowd(args.clients)
    transports = await connect(args.url, crowd, args.first_source, args.per_source)
    print(json.dumps({"connected": crowd.first_frames, "failed": crowd.failures}), flush=True)
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        command, _, value = line.partition(" ")
        if command == "arm":
            crowd.target, crowd.arrivals, crowd.armed = crowd.newest + 1, [], True
            print(json.dumps({"armed": True}), flush=True)
        elif command == "wait":  # until every viewer here has the round's frame, or the timeout
            deadline = time.time() + float(value)
            while len(crowd.arrivals) < crowd.first_frames and time.time() < deadline:
                await asyncio.sleep(0.02)
            crowd.armed = False
            print(json.dumps({"arrivals": crowd.arrivals, "expected": crowd.first_frames}), flush=True)
    for transport in transports:
        transport.close()


# ---- the parent: the stack, nginx with Nchan, the load processes, the rounds ----

def cpu_seconds(pids: list[int]) -> float:
    """Time on a CPU of every thread of these processes, in nanoseconds' precision (/proc/stat's ticks are 10 ms:
    coarser than one frame's work)."""
    return sum(int(stat.read_text().split()[0]) for pid in pids
               for stat in Path(f"/proc/{pid}/task").glob("*/schedstat")) / 1e9


class Load:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def ask(self, line: str | None = None) -> dict[str, object]:
        assert self.process.stdin is not None and self.process.stdout is not None
        if line is not None:
            self.process.stdin.write(f"{line}\n".encode())
            await self.process.stdin.drain()
        answer: dict[str, object] = json.loads(await self.process.stdout.readline())
        return answer


async def start_loads(url: str, clients: int, processes: int, first_source: int) -> list[Load]:
    per_process = math.ceil(clients / processes)
    loads = []
    for i in range(processes):
        count = min(per_process, clients - i * per_process)
        loads.append(Load(await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.stream_fanout", CHILD_FLAG, "--url", url, "--clients", str(count),
            "--first-source", str(first_source + i * math.ceil(per_process / 250)), "--per-source", "250",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 24)))  # arrivals: 1 line
    return loads


async def rounds(loads: list[Load], change: Callable[[], Awaitable[object]], count: int,
                 cpu_pids: list[int]) -> tuple[list[dict[str, object]], float]:
    """`count` changes, each timed from just before `change` to each viewer's frame; the CPU seconds per change
    of `cpu_pids` (whoever's work is under test), less what they spend as busy in the same time when nothing
    changes (timers, heartbeats: a round that lasts longer for a bigger audience must not count them as work)."""
    idle_before = cpu_seconds(cpu_pids)
    await asyncio.sleep(IDLE_SECONDS)
    idle_rate = (cpu_seconds(cpu_pids) - idle_before) / IDLE_SECONDS
    results, cpu = [], 0.0
    for _ in range(count):
        await asyncio.gather(*(load.ask("arm") for load in loads))
        cpu_before, started = cpu_seconds(cpu_pids), time.time()
        await change()
        answers = await asyncio.gather(*(load.ask("wait 30") for load in loads))
        cpu += cpu_seconds(cpu_pids) - cpu_before - idle_rate * (time.time() - started)
        latencies = sorted(t - started for a in answers for t in a["arrivals"])  # type: ignore[attr-defined]
        expected = sum(int(a["expected"]) for a in answers)  # type: ignore[call-overload]
        result: dict[str, object] = {"received": len(latencies), "missing": expected - len(latencies)}
        if latencies:
            result.update(p50_ms=round(latencies[len(latencies) // 2] * 1000, 1),
                          p99_ms=round(stream_load.percentile(latencies, 0.99) * 1000, 1),
                          max_ms=round(latencies[-1] * 1000, 1))
        results.append(result)
        await asyncio.sleep(1.0)
    return results, cpu / max(count, 1)


def process_tree(root: int) -> list[int]:
    """A process and its children (nginx's master and workers, Pushpin's runner and services)."""
    pids = [root]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == root:
                pids.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return pids


def pss_of(pids: list[int]) -> int:
    """The processes' proportional set size (KiB): a page shared by n of them counts 1/n in each, so their sum is
    what they hold together (the sum of their RSS, measured before, counts a shared page once per process; the two
    agreed to 0.01 KiB per viewer)."""
    total = 0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in lines if line.startswith("Pss:"))
    return total


async def audience(url: str, change: Callable[[], Awaitable[object]], server_root: int, cpu_pids: list[int],
                   clients: int, processes: int, count: int, show: float = 0) -> dict[str, object]:
    """Connect `clients` viewers, make `count` timed changes, then `show` seconds of a change every 250 ms (the
    board's own pace in a show's busiest minutes): the server's memory per viewer once connected, and what the timed
    frames and that stretch of show added to it (a show holds its audience for hours: whatever grows with frames or
    time connected would run the server out of memory; Nchan 1.3.6's ping did, only with frames flowing)."""
    memory = [pss_of(process_tree(server_root))]
    started = time.perf_counter()
    loads = await start_loads(url, clients, processes, 2)
    connected = [await load.ask() for load in loads]
    seconds = time.perf_counter() - started
    await asyncio.sleep(1)
    memory.append(pss_of(process_tree(server_root)))
    ok = max(sum(int(c["connected"]) for c in connected), 1)  # type: ignore[call-overload]
    results, cpu_per_frame = await rounds(loads, change, count, cpu_pids)
    memory.append(pss_of(process_tree(server_root)))
    for _ in range(int(show / FRAME_SECONDS)):
        await change()
        await asyncio.sleep(FRAME_SECONDS)
    await asyncio.sleep(1)
    memory.append(pss_of(process_tree(server_root)))
    for load in loads:
        assert load.process.stdin is not None
        load.process.stdin.close()
    await asyncio.gather(*(load.process.wait() for load in loads))
    before, connected_kib, after_frames, after_show = memory
    return {"connected": ok, "failed": sum(int(c["failed"]) for c in connected),  # type: ignore[call-overload]
            "connect_seconds": round(seconds, 1), "rounds": results,
            "kib_per_viewer": round((connected_kib - before) / ok, 2),
            "mib": f"{before / 1024:.1f} -> {connected_kib / 1024:.1f}",
            "kib_per_viewer_frames": round((after_frames - connected_kib) / ok, 2),
            "kib_per_viewer_show": round((after_show - after_frames) / ok, 2),
            "cpu_ms_per_frame": round(cpu_per_frame * 1000, 2)}


async def touching(redis_url: str, contest_id: int) -> Callable[[], Awaitable[object]]:
    """The change a vote's refresh makes: the cached board announced again under a new version."""
    from redis.asyncio import Redis

    from leaderboard.cache import touch

    redis = Redis.from_url(redis_url)
    await redis.ping()
    return partial(touch, redis, contest_id)


async def through_the_stack(url: str, stack_redis: str, contest_id: int, web_pids: list[int], nginx: int,
                            small: int, clients: int, processes: int, count: int, show: float
                            ) -> tuple[dict[str, object], dict[str, object]]:
    change = await touching(stack_redis, contest_id)
    few = await audience(url, change, nginx, web_pids, small, 1, count)
    many = await audience(url, change, nginx, web_pids, clients, processes, count, show)
    return few, many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--small", type=int, default=1_000, help="the small audience, for the CPU per frame")
    parser.add_argument("--processes", type=int, default=4, help="load processes (each opens < 20,000 files)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--show", type=float, default=60.0,
                        help="seconds of a change every 250 ms after the timed rounds, for the memory it adds")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    workers = max(4, math.ceil(args.clients / 12_000))  # each worker's files: at most 20,000 on this machine
    server = fanout_server.FanoutServer(listen=f"127.0.0.1:{free_port()}", publish_listen=f"127.0.0.1:{free_port()}",
                                        workers=workers, max_connections=18_000)
    nginx = fanout_server.start(server, Path(tempfile.mkdtemp(prefix="ballot-fanout-")))
    try:
        with running_stack(web_processes=1, extra_env={"BOARD_FANOUT_URL": server.publish_url,
                                                       "BOARD_FANOUT_SECRET": server.publish_secret}) as stack:
            url = f"{server.stream_base}/api/v1/contests/demo/leaderboard/stream"
            web_pids = stack.web_pids()
            time.sleep(2)  # the lease taken and the demo board published
            contest_id = asyncio.run(stream_load.contest_id_from_database(stack.database_url, url))
            small, big = asyncio.run(through_the_stack(url, stack.redis_url, contest_id, web_pids, nginx.pid,
                                                       args.small, args.clients, args.processes, args.rounds,
                                                       args.show))
    finally:
        os.killpg(nginx.pid, signal.SIGTERM)
        nginx.wait(10)
    figures = {
        "fan-out server": f"nginx with Nchan (Debian's libnginx-mod-nchan), {workers} workers; one web process",
        "viewers": f"{big['connected']} of {args.clients} connected in {big['connect_seconds']} s "
                   f"from {args.processes} load processes, {big['failed']} failed",
        **{f"round {i + 1}: change -> every viewer": ", ".join(f"{k} {v}" for k, v in r.items())  # type: ignore
           for i, r in enumerate(big["rounds"])},  # type: ignore[arg-type]
        "nginx memory (PSS)": f"{big['mib']} MiB, {big['kib_per_viewer']} KiB per viewer; then "
                              f"{big['kib_per_viewer_frames']:+} KiB per viewer over {args.rounds} frames and "
                              f"{big['kib_per_viewer_show']:+} KiB over {args.show:.0f} s of a frame every 250 ms",
        "web CPU per frame": f"{small['cpu_ms_per_frame']} ms with {small['connected']} viewers, "
                             f"{big['cpu_ms_per_frame']} ms with {big['connected']}",
        "target": "p99 < 1 s, <= 10 KiB per viewer and nothing more with frames or time, CPU per frame independent "
                  "of the audience",
    }
    markdown = print_report("stream through the fan-out server", figures)
    if not args.no_record:
        record("stream-fanout", markdown)


def child_main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(CHILD_FLAG, action="store_true")
    parser.add_argument("--url", required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--first-source", type=int, required=True)
    parser.add_argument("--per-source", type=int, default=250)
    asyncio.run(child(parser.parse_args()))


if __name__ == "__main__":
    child_main() if CHILD_FLAG in sys.argv else main()
