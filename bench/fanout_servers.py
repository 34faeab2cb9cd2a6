"""Which fan-out server for the board: Nchan (nginx module) against Pushpin (GRIP proxy), both from Debian, bare.

    python -m bench.fanout_servers [--clients 20000] [--processes 2] [--rounds 5] [--no-record]

Each server in turn holds N SSE viewers (bench.stream_fanout's load processes) of one channel, and gets the same
~2 KiB board frame published `--rounds` times over HTTP (Nchan: POST to its publisher location; Pushpin: its
/publish/ endpoint). Pushpin needs a backend for every viewer that connects (a GRIP "hold" answer): a small
aiohttp one in this process stands in for the service, and the figures count its requests. Figures per server:
change -> every viewer (p50/p99/max), the server's memory per viewer (its processes' RSS), its CPU per frame,
and the backend requests that connecting the viewers took.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from aiohttp import web

from assembly.machine import fanout_server
from bench.harness import print_report, record
from bench.stream_fanout import audience, process_tree
from leaderboard.publish_secret import HEADER
from tests.servers import free_port

PATH = "/api/v1/contests/demo/leaderboard/stream"
PUSHPIN_PORT = 7999  # its default
BOARD = json.dumps({"contest": "demo", "candidates": [
    {"code": f"{i:02d}", "name": f"Candidate number {i}", "votes": 1000 + i, "rank": i} for i in range(1, 25)]})


Publish = Callable[[], Awaitable[None]]


async def publisher(http: httpx.AsyncClient, url: str, secret: str) -> tuple[list[int], Publish]:
    """A publish of the board to `url` (a fan-out server's publisher location, or a balancer's) with the servers'
    publish secret, and its tally."""
    outcome = [0, 0]  # published, failed
    headers = {"X-EventSource-Event": "leaderboard", HEADER: secret}

    async def publish() -> None:
        try:
            (await http.post(url, content=BOARD, headers=headers)).raise_for_status()
            outcome[0] += 1
        except httpx.HTTPError:
            outcome[1] += 1

    return outcome, publish


async def wait_answering(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(200):
            try:
                await http.get(url)
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
    raise SystemExit(f"{url} never answered")


async def nchan(clients: int, processes: int, rounds: int) -> dict[str, object]:
    workers = max(2, -(-clients // 12_000))
    server = fanout_server.FanoutServer(listen=f"127.0.0.1:{free_port()}", publish_listen=f"127.0.0.1:{free_port()}",
                                        workers=workers, max_connections=18_000)
    process = fanout_server.start(server, Path(tempfile.mkdtemp(prefix="ballot-nchan-")))
    try:
        await wait_answering(server.publish_url + "demo")
        async with httpx.AsyncClient() as http:
            async def publish() -> None:
                (await http.post(server.publish_url + "demo", content=BOARD, headers={
                    "X-EventSource-Event": "leaderboard", HEADER: server.publish_secret})).raise_for_status()
            await publish()
            figures = await audience(server.stream_base + PATH, publish, process.pid, process_tree(process.pid),
                                     clients, processes, rounds)
        figures["backend requests"] = 0
        figures["processes"] = f"nginx, {workers} workers"
        return figures
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


def pushpin_config(folder: Path, http_port: int, backend_port: int, message_rate: int) -> Path:
    (folder / "run").mkdir(parents=True)
    (folder / "log").mkdir()
    (folder / "routes").write_text(f"* 127.0.0.1:{backend_port}\n")
    text = Path("/etc/pushpin/pushpin.conf").read_text()
    for key, value in {"rundir": folder / "run", "logdir": folder / "log", "http_port": http_port,
                       "routesfile": folder / "routes", "message_rate": message_rate, "log_level": 1,
                       # Debian's file leaves out zurl, the client the proxy reaches its backend through
                       "services": "condure,zurl,pushpin-proxy,pushpin-handler"}.items():
        text = "\n".join(f"{key}={value}" if line.startswith(f"{key}=") else line for line in text.splitlines())
    # Debian's internal.conf points the proxy at a system-wide zurl (/var/run/zurl): use the runner's own instead.
    run = folder / "run"
    text = text.replace("[proxy]\n", f"[proxy]\nzurl_out_specs=ipc://{run}/pushpin-zurl-in\n"
                        f"zurl_out_stream_specs=ipc://{run}/pushpin-zurl-in-stream\n"
                        f"zurl_in_specs=ipc://{run}/pushpin-zurl-out\n", 1)
    conf = folder / "pushpin.conf"
    conf.write_text(text + "\n")
    return conf


async def pushpin(clients: int, processes: int, rounds: int, message_rate: int) -> dict[str, object]:
    held = 0

    async def hold(request: web.Request) -> web.Response:
        """The service's part under GRIP: every viewer's connect is a request here, answered with a hold."""
        nonlocal held
        held += 1
        return web.Response(body=f"event: leaderboard\nid: 1\ndata: {BOARD}\n\n".encode(), headers={
            "Content-Type": "text/event-stream", "Grip-Hold": "stream", "Grip-Channel": "board-demo"})

    app = web.Application()
    app.router.add_get(PATH, hold)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    # Pushpin's own port (condure binds it on every address): outside the ephemeral range, where the viewers of
    # the run before leave thousands of sockets in TIME_WAIT that a bind on 0.0.0.0 would collide with.
    backend_port, http_port = free_port(), PUSHPIN_PORT
    await web.TCPSite(runner, "127.0.0.1", backend_port).start()
    folder = Path(tempfile.mkdtemp(prefix="ballot-pushpin-"))
    process = subprocess.Popen(["pushpin", "--config", str(pushpin_config(folder, http_port, backend_port,
                                                                          message_rate))],
                               start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    version = 1  # the backend's first frame; published ones follow
    try:
        await wait_answering("http://127.0.0.1:5561/")
        await wait_answering(f"http://127.0.0.1:{http_port}/")
        async with httpx.AsyncClient() as http:
            async def publish() -> None:
                nonlocal version
                version += 1
                frame = f"event: leaderboard\nid: {version}\ndata: {BOARD}\n\n"
                (await http.post("http://127.0.0.1:5561/publish/", json={"items": [
                    {"channel": "board-demo", "formats": {"http-stream": {"content": frame}}}]})).raise_for_status()
            figures = await audience(f"http://127.0.0.1:{http_port}{PATH}", publish, process.pid,
                                     process_tree(process.pid), clients, processes, rounds)
        figures["backend requests"] = held
        figures["processes"] = f"pushpin (condure, pushpin-proxy, pushpin-handler), message_rate {message_rate}"
        return figures
    finally:
        stop_session(process)
        await runner.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def stop_session(process: subprocess.Popen[bytes]) -> None:
    """Pushpin's runner puts each service in a process group of its own: stop the whole session it leads (a
    service left behind would hold ports 5560-5563 for the next run)."""
    process.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)
    for pid in [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]:
        with contextlib.suppress(OSError, ProcessLookupError):
            if os.getsid(pid) == process.pid:
                os.kill(pid, signal.SIGKILL)
    process.wait(5)


def line(figures: dict[str, object]) -> dict[str, str]:
    rounds = figures["rounds"]
    assert isinstance(rounds, list)
    worst = max((r.get("p99_ms", 0) for r in rounds), default=0)
    return {
        "viewers": f"{figures['connected']} connected in {figures['connect_seconds']} s, {figures['failed']} failed",
        "change -> every viewer": "; ".join(", ".join(f"{k} {v}" for k, v in r.items()) for r in rounds),
        "worst round's p99": f"{worst} ms",
        "memory": f"{figures['rss_mib']} MiB, {figures['kib_per_viewer']} KiB per viewer",
        "CPU per frame": f"{figures['cpu_ms_per_frame']} ms",
        "backend requests to connect them": str(figures["backend requests"]),
        "processes": str(figures["processes"]),
    }


def main(run: Callable[[argparse.Namespace], Awaitable[dict[str, dict[str, object]]]] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--message-rate", type=int, default=2500, help="Pushpin's own cap (its default: 2,500/s)")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    if shutil.which("pushpin") is None or not fanout_server.installed():
        raise SystemExit("needs Debian's pushpin and libnginx-mod-nchan (apt-get install pushpin libnginx-mod-nchan)")

    async def both() -> dict[str, dict[str, object]]:
        return {"Nchan": await nchan(args.clients, args.processes, args.rounds),
                "Pushpin": await pushpin(args.clients, args.processes, args.rounds, args.message_rate)}

    results = asyncio.run(both())
    figures = {f"{name}: {key}": value for name, result in results.items() for key, value in line(result).items()}
    markdown = print_report(f"fan-out servers, bare, {args.clients} viewers of one channel", figures)
    if not args.no_record:
        record("fanout-servers", markdown)


if __name__ == "__main__":
    main()
