"""`gateway run` replaces a web process or worker that stopped answering, whatever stopped it: the process alive but
stuck kept its listening socket, and the kernel went on handing it a share of the port's new connections
(SO_REUSEPORT) that nobody answered. Real processes, the supervisor's own looks (`look_after`) at its pace."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from assembly.liveness import FROZEN_SECONDS
from assembly.settings import Settings
from assembly.supervisor import LOOK_SECONDS, Child, Replacements, look_after, spawn, stop_children
from tests.processes import alive, listening_on
from tests.servers import free_port

STARTED_SECONDS = 120  # a child's start on a loaded machine, generously
REPLACED_WITHIN = 15  # killed and started again
ANSWERED_WITHIN = 20  # the port answers again
WINDOW = 100  # new connections, of which 99% must be answered


@contextmanager
def supervised(children: list[Child], replacements: Replacements) -> Iterator[None]:
    stop = threading.Event()

    def look() -> None:
        while not stop.wait(LOOK_SECONDS):
            look_after(children, replacements)

    thread = threading.Thread(target=look, name="supervisor", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        for child in children:  # a child left stopped could not stop
            os.kill(child.process.pid, signal.SIGCONT)
        stop_children(children)


def beating(child: Child) -> bool:
    return child.heartbeat is not None and child.heartbeat.last_beat is not None


def until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)


def answers(port: int) -> bool:
    """One new connection to the port, asked for /healthz: answered, or not within 2 s."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            return connection.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def replaced_count(place: Path, process: str) -> float:
    return sum(sample.value for family in MultiProcessCollector(None, str(place)).collect()  # type: ignore[no-untyped-call]
               for sample in family.samples
               if sample.name == "gateway_processes_replaced_total" and sample.labels == {"process": process})


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the host's processes (and the supervisor's count) share their figures, as `gateway run` names it."""
    place = tmp_path / "metrics"
    place.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(place))
    return place


@contextmanager
def two_web_processes(shared: Path) -> Iterator[tuple[int, list[Child]]]:
    port = free_port()
    children = [spawn(f"web-{i}", str(port), module="tests.fakes.web_process", watched=True) for i in range(2)]
    with supervised(children, Replacements()):
        until(lambda: all(beating(c) and listening_on(c.process.pid, port) for c in children), STARTED_SECONDS,
              "both web processes up")
        yield port, children


def port_recovers(port: int, children: list[Child], frozen: int, since: float) -> tuple[float, float]:
    """Connections, one after the other, until the frozen child was replaced and the last `WINDOW` of them were all
    but one answered: the seconds, from the freeze, to each."""
    window: deque[bool] = deque(maxlen=WINDOW)
    replaced = recovered = None
    deadline = since + 3 * ANSWERED_WITHIN  # a verdict however late (the figures assert the targets)
    while (replaced is None or recovered is None) and time.monotonic() < deadline:
        window.append(answers(port))
        now = time.monotonic()
        if replaced is None and children[1].process.pid != frozen:
            replaced = now - since
        if recovered is None and len(window) == WINDOW and sum(window) >= 0.99 * WINDOW:
            recovered = now - since
    assert replaced is not None and recovered is not None, (replaced, recovered)
    return replaced, recovered


def freeze_and_recover(shared: Path, freeze: signal.Signals) -> None:
    with two_web_processes(shared) as (port, children):
        frozen = children[1].process.pid
        os.kill(frozen, freeze)
        since = time.monotonic()
        replaced, recovered = port_recovers(port, children, frozen, since)
        assert replaced <= REPLACED_WITHIN and recovered <= ANSWERED_WITHIN, (replaced, recovered)
        assert replaced >= FROZEN_SECONDS - 1.5  # silent for that long: no sooner (its last beat was before)
        assert not alive(frozen)
        replacement = children[1].process.pid
        until(lambda: beating(children[1]) and listening_on(replacement, port), STARTED_SECONDS,
              "the replacement up")
        assert sum(answers(port) for _ in range(WINDOW)) >= 0.99 * WINDOW  # both serve
        assert replaced_count(shared, "web-1") == 1 and replaced_count(shared, "web-0") == 0


def test_a_stopped_web_process_is_killed_and_replaced_and_the_port_answers_again(shared: Path) -> None:
    """SIGSTOP: nothing of the process runs (its own watchdog neither), only the supervisor can tell."""
    freeze_and_recover(shared, signal.SIGSTOP)


def test_a_web_process_whose_loop_is_held_is_killed_and_replaced_and_the_port_answers_again(shared: Path) -> None:
    """Its loop waits for a lock it holds (as the GC callback did): its threads run, its loop never again."""
    freeze_and_recover(shared, signal.SIGUSR1)


@pytest.fixture
def service_env(clean: None, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `gateway run` gives its children: the suite's PostgreSQL and Redis."""
    for name, value in (("DATABASE_URL", settings.database_url), ("REDIS_URL", settings.redis_url)):
        monkeypatch.setenv(name, value or "")
    monkeypatch.setenv("LOG_JSON", "false")


def test_gateway_web_beats_once_started(service_env: None, shared: Path) -> None:
    """The service's own web process: its loop's ticks reach the supervisor once it has started and listens."""
    port = free_port()
    children = [spawn("web-0", "web", "--host", "127.0.0.1", "--port", str(port), watched=True)]
    with supervised(children, Replacements()):
        until(lambda: beating(children[0]) and listening_on(children[0].process.pid, port), STARTED_SECONDS,
              "gateway web up and beating")
        assert answers(port)


def test_a_stopped_worker_is_replaced(service_env: None, shared: Path) -> None:
    children = [spawn("worker-1", "worker", "--no-cron", watched=True)]
    with supervised(children, Replacements()):
        until(lambda: beating(children[0]), STARTED_SECONDS, "the worker up")
        frozen = children[0].process.pid
        os.kill(frozen, signal.SIGSTOP)
        since = time.monotonic()
        until(lambda: children[0].process.pid != frozen, 3 * REPLACED_WITHIN, "the worker replaced")
        assert time.monotonic() - since <= REPLACED_WITHIN
        assert not alive(frozen)
        until(lambda: beating(children[0]), STARTED_SECONDS, "the replacement up")
        assert replaced_count(shared, "worker-1") == 1


def test_a_worker_asked_to_stop_while_redis_does_not_answer_stops_after_its_job(settings: Settings) -> None:
    """A signal handler runs wherever the main thread was: one that waited on Redis there never returned."""
    with subprocess.Popen([sys.executable, "-m", "tests.fakes.worker_stopped_while_redis_is_silent",
                           settings.redis_url or ""], stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"  # however long a loaded machine takes to import
            finished = threading.Thread(target=process.wait, daemon=True)
            finished.start()
            finished.join(30)  # a moment's work, given thirty seconds
            assert process.poll() == 0, "the worker's signal handler waited on Redis"
            assert process.stdout.read() == "stops after the job\n"
        finally:
            process.kill()
