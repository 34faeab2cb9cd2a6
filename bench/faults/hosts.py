"""Two hosts behind a load balancer, one of them killed whole in the middle of a burst of votes.

Each "host" is a `gateway run` of its own: its own process group, `GATEWAY_DATA_DIR` and port, a web process and
a worker, sharing one PostgreSQL and one Redis by URL (embedded, started here) as hosts of a deployment do. The
outside world runs apart (`gateway stand-ins`: the MTN sandbox, AT's and the Bot API's fakes), since MTN does not
die with one of our machines; Debian's HAProxy spreads voters, viewers and MTN's callbacks over both hosts and
stops sending to one whose `/readyz` fails. Viewers hold the board's SSE stream through the balancer and, as a
browser's EventSource does, reconnect with `Last-Event-ID` when it breaks.

Then every process of one host gets SIGKILL at once, while callbacks are coming in, and the run checks what
`bench.faults web` checks (every order decided, every approved payment counted once, the tally invariant, the
public board equal to the tallies), plus: how long until every viewer the kill cut off was back on a live stream
(through the balancer, on the other host), that no viewer ever saw the board go back, and that every viewer ends
on the final board.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from assembly.machine.embedded import service_urls
from bench.faults.burst import (
    CALLBACKS_BEFORE_KILL,
    VOTES,
    callbacks_around,
    callbacks_kept,
    check,
    place_votes,
    sandbox,
)
from bench.harness import ROOT, Stack, _env_of, _processes, free_port

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
VIEWERS = 200
STREAM = "/api/v1/contests/demo/leaderboard/stream"


@dataclass
class Host:
    name: str
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes]

    def pids(self) -> list[int]:
        """Every process of this host: `gateway run` and all it started (each child in a session of its own)."""
        marker = f"GATEWAY_DATA_DIR={self.data_dir}\0"
        return [pid for pid, _ in _processes() if pid != os.getpid() and marker in _env_of(pid) + "\0"]


@dataclass
class Site:
    stack: Stack  # the balancer's address, the shared database and Redis, the sandbox: what the checks read
    hosts: list[Host]


def balancer_config(port: int, hosts: list[tuple[str, int]]) -> str:
    """HAProxy in front of the hosts: round robin, a host out once /readyz fails twice (half a second apart), a
    request whose connection is refused sent to another, streams held for an hour."""
    servers = "\n".join(f"    server {name} 127.0.0.1:{host_port} check" for name, host_port in hosts)
    return f"""global
    maxconn 9000  # two descriptors a connection: under this machine's limit of 20,000
defaults
    mode http
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    option redispatch
    retries 3
    option forwardfor
frontend ballot
    bind 127.0.0.1:{port}
    default_backend hosts
backend hosts
    balance roundrobin
    http-response set-header X-Served-By %s
    option httpchk GET /readyz
    default-server inter 500ms fall 2 rise 2
{servers}
"""


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120, answer_within: float = 2) -> None:
    """Until the server at `url` says it is ready (/readyz), or raise when its process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: its process exited")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=answer_within).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not become ready in time")


def wait_balanced(url: str, hosts: set[str], timeout: float = 30) -> None:
    """Until the balancer sends requests to every host (it takes a host in after two good health checks)."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and seen != hosts:
        with contextlib.suppress(httpx.HTTPError):
            seen.add(httpx.get(f"{url}/readyz", timeout=2).headers.get("X-Served-By", ""))
        time.sleep(0.1)
    if seen != hosts:
        raise RuntimeError(f"the balancer sends to {sorted(seen)} only, not to all of {sorted(hosts)}")


@contextlib.contextmanager
def two_hosts() -> Iterator[Site]:
    if not Path(HAPROXY).exists():
        raise SystemExit("bench.faults hosts needs Debian's HAProxy: run `make balancer` (apt-get install haproxy)")
    root = Path(tempfile.mkdtemp(prefix="ballot-hosts-", dir="/tmp"))
    started: list[subprocess.Popen[bytes]] = []
    try:  # BENCH_KEEP=1 keeps the hosts' folders and logs
        with service_urls(None, None, root / "shared") as urls:
            try:
                yield _start(root, urls.database_url, urls.redis_url, started)
            except BaseException:
                for log in sorted(root.glob("*/process.log")):  # why a host would not start, before it is gone
                    print(f"--- {log}:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:]))
                raise
            finally:
                for process in reversed(started):  # the hosts first, the outside world and the balancer last
                    with contextlib.suppress(ProcessLookupError):
                        process.send_signal(signal.SIGINT)
                for process in reversed(started):
                    try:
                        process.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        process.kill()
    finally:
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(root, ignore_errors=True)


def _start(root: Path, database_url: str, redis_url: str, started: list[subprocess.Popen[bytes]]) -> Site:
    lb, sandbox, at, telegram = free_port(), free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, PUBLIC_BASE_URL=f"http://127.0.0.1:{lb}",
               SANDBOX_URL=f"http://127.0.0.1:{sandbox}", AT_FAKE_URL=f"http://127.0.0.1:{at}",
               TELEGRAM_FAKE_API_URL=f"http://127.0.0.1:{telegram}", LOG_LEVEL="WARNING", LOG_JSON="false",
               MEDIA_UPLOAD_URL="https://media.example.org", MEDIA_FILES_URL="https://media.example.org",
               GATEWAY_WEB_PROCESSES="1", GATEWAY_WORKER_PROCESSES="1", MEDIA_WORKERS="0")

    def start(name: str, *command: str, **extra: str) -> subprocess.Popen[bytes]:
        folder = root / name
        folder.mkdir()
        process = subprocess.Popen([sys.executable, "-m", "assembly.cli", *command], cwd=ROOT,
                                   env={**env, "GATEWAY_DATA_DIR": str(folder), **extra},
                                   stdout=(folder / "process.log").open("wb"), stderr=subprocess.STDOUT)
        started.append(process)
        return process

    start("outside", "stand-ins")
    ports = {"a": free_port(), "b": free_port()}
    (root / "haproxy.cfg").write_text(balancer_config(lb, list(ports.items())))
    started.append(subprocess.Popen([HAPROXY, "-f", str(root / "haproxy.cfg"), "-db"],
                                    stdout=(root / "haproxy.log").open("wb"), stderr=subprocess.STDOUT))
    hosts = []
    for name, port in ports.items():  # one after the other: the first migrates and seeds the demo
        process = start(name, "run", GATEWAY_PORT=str(port))
        wait_ready(f"http://127.0.0.1:{port}", process)
        hosts.append(Host(name, root / name, port, process))
    wait_balanced(f"http://127.0.0.1:{lb}", set(ports))
    return Site(Stack(f"http://127.0.0.1:{lb}", f"http://127.0.0.1:{sandbox}", database_url, redis_url, root,
                      hosts[-1].process), hosts)


@dataclass
class Viewer:
    """One board viewer through the balancer, as a browser's EventSource: reconnects with `Last-Event-ID`. Each
    from an address of its own (the balancer appends its own to X-Forwarded-For), as phones are: a process takes
    at most `STREAMS_PER_IP` streams from one address."""

    address: str
    versions: list[int] = field(default_factory=list)
    cut_at: list[float] = field(default_factory=list)  # when its stream broke
    live_at: list[float] = field(default_factory=list)  # when a stream of it opened (headers in)
    refused: list[int] = field(default_factory=list)  # the statuses of its refused attempts
    served_by: list[str] = field(default_factory=list)  # which host each of its streams was on (the balancer says)

    async def watch(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            headers = {"X-Forwarded-For": self.address}
            if self.versions:
                headers["Last-Event-ID"] = str(self.versions[-1])
            with contextlib.suppress(httpx.HTTPError):
                async with client.stream("GET", STREAM, headers=headers) as response:
                    if response.status_code != 200:
                        self.refused.append(response.status_code)
                    else:
                        self.live_at.append(time.time())
                        self.served_by.append(response.headers.get("X-Served-By", "?"))
                        async for line in response.aiter_lines():
                            if line.startswith("id:"):
                                self.versions.append(int(line[3:].strip()))
            if not stop.is_set():
                self.cut_at.append(time.time())
                await asyncio.sleep(0.5)  # the stream's `retry:` is longer; a hurried browser

    def went_back(self) -> bool:
        return any(later < earlier for earlier, later in zip(self.versions, self.versions[1:], strict=False))


def kill_host(host: Host) -> tuple[list[int], float]:
    """SIGKILL every process of the host at once, as a machine that loses power."""
    victims = host.pids()
    if not victims:
        raise RuntimeError(f"host {host.name} has no process to kill: the scenario would prove nothing")
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    print(f"  killed host {host.name}: {len(victims)} processes with SIGKILL", flush=True)
    return victims, time.time()


def back_on_a_live_stream(viewers: list[Viewer], killed_at: float) -> tuple[int, float | None]:
    """How many viewers the kill cut off, and the time from the kill until the last of them was live again."""
    cut = [viewer for viewer in viewers if any(at >= killed_at for at in viewer.cut_at)]
    if not cut:
        return 0, None
    back = [min((at for at in viewer.live_at if at >= killed_at), default=None) for viewer in cut]
    if any(at is None for at in back):
        for viewer in [viewer for viewer, at in zip(cut, back, strict=True) if at is None][:3]:
            print(f"  a viewer cut off: cut {[round(at - killed_at, 2) for at in viewer.cut_at]}, live "
                  f"{[round(at - killed_at, 2) for at in viewer.live_at]}, refused {viewer.refused[-5:]}")
        return len(cut), None
    return len(cut), max(at for at in back if at is not None) - killed_at


async def hosts_scenario(site: Site) -> dict[str, str]:
    """Kill one host whole while votes, callbacks and viewers go through the balancer to both."""
    stack, victim = site.stack, site.hosts[0]
    await sandbox(stack, success_delay=0.3, answer_delay=0.5)
    viewers, stop = [Viewer(f"102.244.{i // 250}.{i % 250 + 1}") for i in range(VIEWERS)], asyncio.Event()
    limits = httpx.Limits(max_connections=VIEWERS + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=stack.base_url, limits=limits,
                                 timeout=httpx.Timeout(None, connect=5)) as client:
        watching = [asyncio.create_task(viewer.watch(client, stop)) for viewer in viewers]
        await asyncio.sleep(3)
        live_before = sum(1 for viewer in viewers if viewer.live_at)
        burst = asyncio.create_task(place_votes(stack, VOTES))
        await callbacks_kept(stack, at_least=CALLBACKS_BEFORE_KILL, timeout=30)
        killed, killed_at = kill_host(victim)
        during_burst = not burst.done()
        ids = await burst
        flowing = await callbacks_around(stack, killed_at)
        await asyncio.sleep(5)
        left_behind = [pid for pid in killed if _alive(pid)]
        if len(ids) < VOTES * 0.95:
            stop.set()
            return {"orders placed": f"{len(ids)} of {VOTES}", "verdict": "FAIL"}
        checked = await check(stack, len(ids), killed_at)
        final = await board_version(client)
        await _until(lambda: all(viewer.versions and viewer.versions[-1] >= final for viewer in viewers), 15)
        stop.set()
        for task in watching:
            task.cancel()
    cut, back_in = back_on_a_live_stream(viewers, killed_at)
    on_final = sum(1 for viewer in viewers if viewer.versions and viewer.versions[-1] >= final)
    went_back = sum(1 for viewer in viewers if viewer.went_back())
    ok = (checked.pop("verdict") == "PASS" and during_burst and flowing and not left_behind and cut > 0
          and back_in is not None and on_final == VIEWERS and not went_back
          and int(checked["paid orders confirmed by the reconciler"]) > 0)
    return {
        "hosts": "2 (`gateway run` each: 1 web process, 1 worker), HAProxy in front, one PostgreSQL and Redis",
        "host killed": f"{victim.name}: {len(killed)} processes, SIGKILL at once, during the burst: "
                       f"{'yes' if during_burst else 'NO'}",
        "callbacks coming in at the kill (the second before it)": str(flowing) if flowing else "NO: none",
        "nothing of the killed host left running": "yes" if not left_behind else f"NO: pids {left_behind}",
        "viewers through the balancer": f"{live_before} of {VIEWERS} live before the burst",
        "viewers whose stream broke after the kill": f"{cut} ({_where_cut(viewers, killed_at)})",
        "kill -> every one of them back on a live stream": (f"{back_in:.1f} s" if back_in is not None
                                                               else "NO: some never came back"),
        "viewers on the final board": f"{on_final} of {VIEWERS}",
        "viewers who saw the board go back": str(went_back),
        **checked,
        "verdict": "PASS" if ok else "FAIL",
    }


def _where_cut(viewers: list[Viewer], killed_at: float) -> str:
    """On which host the streams that broke after the kill had been."""
    hosts: dict[str, int] = {}
    for viewer in viewers:
        for opened, host in zip(viewer.live_at, viewer.served_by, strict=True):
            if opened < killed_at and any(at >= killed_at for at in viewer.cut_at):
                latest = max(at for at in viewer.live_at if at < killed_at)
                if opened == latest:
                    hosts[host] = hosts.get(host, 0) + 1
    return ", ".join(f"{count} on host {host}" for host, count in sorted(hosts.items())) or "none"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def board_version(client: httpx.AsyncClient) -> int:
    """The board's version now: the id its stream gives the final frame."""
    async with client.stream("GET", STREAM, headers={"X-Forwarded-For": "102.244.99.1"}) as response:
        async for line in response.aiter_lines():
            if line.startswith("id:"):
                return int(line[3:].strip())
    raise RuntimeError(f"the board's stream gave no version (HTTP {response.status_code})")


async def _until(done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if done():
            return True
        await asyncio.sleep(0.2)
    return False
