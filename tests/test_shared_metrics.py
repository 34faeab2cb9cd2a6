"""A host's web processes share one port (SO_REUSEPORT), so each scrape of `/metrics` reaches one of them, whichever
the kernel picks: as `gateway run` starts them, every scrape serves the figures of all of them and of the worker
(assembly/machine/shared_metrics.py), not one process's sample; and the control room shows the host's measured figures,
the same sums, counted from the host's start, whichever web process serves the page, not one process's since it started.
One host serves both (starting one, then replacing a killed web process, is most of the time)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, insert, select

from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.models import Contest, ContestStatus, OrderStatus, OutboxMessage, VoteOrder
from leaderboard.refresh import BOARD_TOPICS
from tests.admin.accounts import PASSWORD, make_account
from tests.processes import children_of, listening_on
from tests.servers import free_port

CONTEST_ROUTE = "/api/v1/contests/{slug}"
CONTROL_ROUTE = "/api/v1/admin/control"
WEB = "assembly.cli web"


@dataclass
class Host:
    base: str
    process: subprocess.Popen[bytes]
    port: int
    shared: Path  # where its processes write their figures
    log: Path
    # A connection for each request, none kept alive: the kernel picks the process each time. One client for all
    # (a client made for each request spent 37 ms of CPU here building its TLS context, for plain HTTP).
    http: httpx.AsyncClient

    def web_pids(self) -> list[int]:
        return children_of(self.process.pid, WEB)


def sum_of(text: str, name: str, **labels: str) -> float:
    """The sum of the series `name` whose labels include `labels` in an exposition."""
    return sum(found.value for family in text_string_to_metric_families(text) for found in family.samples
               if found.name == name and all(found.labels.get(key) == value for key, value in labels.items()))


def log_tail(host: Host) -> str:
    return host.log.read_text(errors="replace")[-6000:]


async def scrape(host: Host) -> str:
    """A scrape on a connection of its own: the kernel picks the process again. One that goes unanswered says
    what the host's processes wrote (their stalls' stacks among it): its folder is gone once the run ends."""
    try:
        # Longer than the 30 s a request waits for a pooled connection, so such a wait is told as its error.
        response = await host.http.get(f"{host.base}/metrics", timeout=45)
    except httpx.TimeoutException as exc:
        raise AssertionError(f"a scrape went unanswered ({exc!r}; web processes {host.web_pids()}); "
                             f"the host's log ends:\n{log_tail(host)}") from exc
    assert response.status_code == 200, response.text
    return response.text


async def every_scrape(host: Host, times: int = 12) -> list[str]:
    return [await scrape(host) for _ in range(times)]


async def scraped(host: Host, name: str, value: float, timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.2)):
        if sum_of(await scrape(host), name) == value:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} never reached {value}")


async def waited(condition: Callable[[], bool], host: Host, timeout: float = 120) -> None:
    for _ in range(int(timeout / 0.2)):
        if condition():
            return
        assert host.process.poll() is None, log_tail(host)
        await asyncio.sleep(0.2)
    raise AssertionError(f"the condition never held; the host's log ends:\n{log_tail(host)}")


def port_answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def both_listening(host: Host) -> bool:
    pids = host.web_pids()
    # Each process's sockets are looked for in /proc's tables (the kernel writes them walking the machine's every
    # socket, ~10 ms a look) once the port answers at all: not at every look of the host's start.
    return len(pids) == 2 and port_answers(host.port) and all(listening_on(pid, host.port) for pid in pids)


@asynccontextmanager
async def running_host(settings: Settings, data: Path) -> AsyncIterator[Host]:
    """`gateway run` with two web processes and one worker on the suite's PostgreSQL and Redis; its own folder."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}  # its own
    env.update(DATABASE_URL=settings.database_url or "", REDIS_URL=settings.redis_url or "",
               GATEWAY_DATA_DIR=str(data), GATEWAY_PORT=str(port), PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
               GATEWAY_WEB_PROCESSES="2", GATEWAY_WORKER_PROCESSES="1", MEDIA_WORKERS="0", LOG_JSON="false",
               SANDBOX_URL=f"http://127.0.0.1:{free_port()}", AT_FAKE_URL=f"http://127.0.0.1:{free_port()}",
               TELEGRAM_FAKE_API_URL=f"http://127.0.0.1:{free_port()}",
               MEDIA_UPLOAD_URL="https://media.example.org", MEDIA_FILES_URL="https://media.example.org")
    log = data / "host.log"
    data.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "assembly.cli", "run"], env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    http = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_keepalive_connections=0))
    host = Host(f"http://127.0.0.1:{port}", process, port, data / "metrics", log, http)
    try:
        await waited(lambda: both_listening(host), host)
        yield host
    finally:
        await http.aclose()
        for pid in host.web_pids():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def requests_served_by(host: Host, pid: int) -> float:
    """What one web process counted itself, from its own file (the premise: both served some)."""
    files = [str(host.shared / f"counter_{pid}.db")]
    return sum(found.value for metric in MultiProcessCollector.merge(files) for found in metric.samples
               if found.name == "gateway_http_requests_total" and found.labels.get("route") == CONTEST_ROUTE)


def counted(files: list[Path], name: str, **labels: str) -> float:
    return sum(found.value for metric in MultiProcessCollector.merge([str(f) for f in files if f.exists()])
               for found in metric.samples
               if found.name == name and all(found.labels.get(key) == value for key, value in labels.items()))


def calls_made(host: Host, pid: int | None = None) -> float:
    """The providers' calls the host's processes made (or one process), read from their own files."""
    files = [host.shared / f"counter_{pid}.db"] if pid else list(host.shared.glob("counter_*.db"))
    return counted(files, "gateway_provider_calls_total")


def rooms_served_by(host: Host, pid: int) -> float:
    return counted([host.shared / f"counter_{pid}.db"], "gateway_http_requests_total", route=CONTROL_ROUTE)


async def owner_headers(host: Host, sessions: Sessions) -> dict[str, str]:
    owner = await make_account(sessions, "owner")
    response = await host.http.post(f"{host.base}/api/v1/admin/token", json={
        "email": owner.email, "password": PASSWORD, "code": pyotp.TOTP(owner.secret).now()})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def room(host: Host, headers: dict[str, str]) -> dict[str, Any]:
    response = await host.http.get(f"{host.base}{CONTROL_ROUTE}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def rooms_until_served_by(host: Host, headers: dict[str, str], pids: list[int]) -> list[Room]:
    """The control room read on fresh connections until each of `pids` has served it at least once, each reading
    with the providers' calls the host's files held just before and just after it."""
    readings = []
    for _ in range(60):
        before = calls_made(host)
        seen = await room(host, headers)
        readings.append(Room(seen, before, calls_made(host)))
        if all(rooms_served_by(host, pid) > 0 for pid in pids):
            return readings
    raise AssertionError(f"the kernel never gave the room to each of {pids}")


@dataclass(frozen=True)
class Room:
    seen: dict[str, Any]
    calls_before: float
    calls_after: float

    @property
    def counts_the_host(self) -> bool:
        """The room reported every call the host's processes had made by then and none they had not (a status
        check the worker makes during the read may or may not be in it)."""
        reported = sum(p["calls"] for p in self.seen["providers"].values())
        return self.seen["measured_by"] == "host" and self.calls_before <= reported <= self.calls_after


async def board_rows_delivered(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.topic.in_(BOARD_TOPICS), OutboxMessage.delivered_at.is_not(None))) or 0)


async def board_rows_waiting(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.topic.in_(BOARD_TOPICS), OutboxMessage.delivered_at.is_(None))) or 0)


async def open_contests(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Contest).where(
            Contest.status == ContestStatus.OPEN)) or 0)


async def paid_orders(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(VoteOrder).where(
            VoteOrder.status == OrderStatus.PAID)) or 0)


async def send_requests(host: Host, count: int) -> None:
    for _ in range(count):  # a connection each: the kernel spreads them over the processes
        assert (await host.http.get(f"{host.base}/api/v1/contests/demo")).status_code == 200


async def vote(host: Host, number: int) -> None:
    body = {"candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": f"+2376700010{number:02d}"}
    response = await host.http.post(f"{host.base}/api/v1/contests/demo/votes", json=body,
                                    headers={"X-Forwarded-For": f"41.202.7.{number + 1}"})
    assert response.status_code in (200, 201, 202), response.text


async def votes_on_both_processes(host: Host, at_least: int) -> int:
    """Votes (the sandbox approves each and calls back, on either process) until both web processes have made
    provider calls, `at_least` of them; how many."""
    number = 0
    while number < at_least or min(calls_made(host, pid) for pid in host.web_pids()) == 0:
        assert number < 30, "the votes all reached one web process"
        await vote(host, number)
        number += 1
    return number


async def paid_and_published(sessions: Sessions, votes: int) -> int:
    """Once every vote is paid and its frame published: the board's frames delivered."""
    for _ in range(300):
        if await paid_orders(sessions) == votes and not await board_rows_waiting(sessions):
            break
        await asyncio.sleep(0.2)
    assert await paid_orders(sessions) == votes
    frames = await board_rows_delivered(sessions)
    assert frames >= votes
    return frames


async def test_every_scrape_and_the_control_room_serve_the_totals_of_every_process(
        settings: Settings, sessions: Sessions, tmp_path: Path) -> None:
    requests = 40
    async with running_host(settings, tmp_path / "host") as host:
        listening_at = time.monotonic()
        await send_requests(host, requests)
        votes = await votes_on_both_processes(host, 6)
        frames = await paid_and_published(sessions, votes)
        # The first scrapes: each process reads PostgreSQL's figures at its first, with every vote paid (a process
        # scraped before the votes would serve its count of before them for up to ORDER_COUNT_SECONDS).
        for text in await every_scrape(host):
            assert sum_of(text, "gateway_http_requests_total", route=CONTEST_ROUTE, status="200") == requests
            assert sum_of(text, "gateway_callback_to_tally_seconds_count", provider="mtn") == votes
            assert sum_of(text, "gateway_count_to_board_seconds_count") == frames
            # Read from PostgreSQL by the process answering: once, not once per process.
            assert sum_of(text, "gateway_orders", status="paid") == votes
            assert sum_of(text, "gateway_vote_orders", status="paid") == votes
            assert sum_of(text, "gateway_contests", status="open") == await open_contests(sessions)  # the demos
            # Every gauge one series whatever the processes (none left per process, by `pid`).
            assert not [s for f in text_string_to_metric_families(text) for s in f.samples if "pid" in s.labels]
        served = [requests_served_by(host, pid) for pid in host.web_pids()]
        assert sum(served) == requests and min(served) > 0, served  # both processes answered some
        headers = await owner_headers(host, sessions)
        for reading in await rooms_until_served_by(host, headers, host.web_pids()):
            assert reading.counts_the_host, reading
            assert reading.seen["confirmation_latency_seconds"]["p50"] is not None

        await worker_relays_a_frame(host, sessions)
        await scraped(host, "gateway_count_to_board_seconds_count", frames + 1)  # noted just after its delivery
        for text in await every_scrape(host):
            assert sum_of(text, "gateway_count_to_board_seconds_count") == frames + 1

        # The host well older than a newcomer (whose age the last assertion tells from the host's, 3 s off)
        await asyncio.sleep(max(0.0, listening_at + 6 - time.monotonic()))
        before = host.web_pids()
        await a_web_process_dies(host)
        [newcomer] = set(host.web_pids()) - set(before)
        for text in await every_scrape(host):  # what the dead process counted stays counted
            assert sum_of(text, "gateway_http_requests_total", route=CONTEST_ROUTE, status="200") == requests
            assert sum_of(text, "gateway_count_to_board_seconds_count") == frames + 1
        # The host's figures, since the host started: the dead process's calls stay counted.
        for reading in await rooms_until_served_by(host, headers, [newcomer]):
            assert reading.counts_the_host, reading
            assert reading.seen["measured_seconds"] >= time.monotonic() - listening_at - 3  # not the newcomer's age


async def worker_relays_a_frame(host: Host, sessions: Sessions) -> None:
    """With both web processes stopped, a vote's board work is left to the worker's safety-net relay."""
    pids = host.web_pids()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        async with sessions.begin() as session:
            contest_id = await session.scalar(select(Contest.id).where(Contest.slug == "demo"))
            row = await session.scalar(insert(OutboxMessage).values(
                topic="vote.confirmed", payload={"contest_id": contest_id}).returning(OutboxMessage.id))
        for _ in range(150):
            async with sessions() as session:
                if await session.scalar(select(OutboxMessage.delivered_at).where(OutboxMessage.id == row)):
                    return
            await asyncio.sleep(0.2)
        raise AssertionError("the worker did not relay the frame")
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


async def a_web_process_dies(host: Host) -> None:
    """SIGKILL one web process: the supervisor replaces it and takes its live gauges out of the sums."""
    dead = host.web_pids()[0]
    assert (host.shared / f"gauge_livesum_{dead}.db").exists()  # its payment work under way, noted every second
    os.kill(dead, signal.SIGKILL)
    await waited(lambda: dead not in host.web_pids() and both_listening(host), host)
    await waited(lambda: not (host.shared / f"gauge_livesum_{dead}.db").exists(), host, timeout=10)
