"""`gateway run` replaces a web process or worker that stopped answering, whatever stopped it: the process alive but
stuck kept its listening socket, and the kernel went on handing it a share of the port's new connections
(SO_REUSEPORT) that nobody answered. Real processes, the supervisor's own looks (`look_after`) at its pace, on short
liveness settings (`LIVENESS`): every bound is the settings' own, so the waits are seconds rather than minutes."""

from __future__ import annotations

import contextlib
import os
import signal
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
from pydantic import ValidationError
from rq.job import JobStatus

from assembly.machine.embedded import EmbeddedRedis
from assembly.machine.heartbeat import HEARTBEAT_FD_ENV
from assembly.machine.liveness import HeartbeatPipe
from assembly.machine.supervisor import LOOK_SECONDS, Child, Replacements, look_after, spawn, stop_children
from assembly.settings import LivenessSettings, Settings
from assembly.worker.rq_worker import between_jobs_seconds
from gateway.jobs.queues import job_queue, sync_redis
from gateway.kit.settings import ServiceSettings
from tests.commands import command_env
from tests.fakes.partitioned_redis import PartitionedRedis
from tests.processes import alive, child_of, listening_on
from tests.servers import free_port, new_connection_answered

# Production's timings, shortened for the processes these tests watch: frozen after 3 s of silence (10 s), a worker's
# wait for a job 2 s (5 s), its Redis calls' margins to answer and to connect 2 and 1 s (10 and 5 s).
LIVENESS = LivenessSettings(_env_file=None, gateway_frozen_after_seconds=3, gateway_worker_dequeue_seconds=2,
                            gateway_worker_redis_answer_seconds=2, gateway_worker_redis_connect_seconds=1)
LIVENESS_FIELDS = LivenessSettings.model_fields.keys() - ServiceSettings.model_fields.keys()
# ...and as the children read them: from the environment they are started with.
LIVENESS_ENV = {name.upper(): str(getattr(LIVENESS, name)) for name in LIVENESS_FIELDS}
FROZEN_AFTER = LIVENESS.gateway_frozen_after_seconds
BETWEEN_JOBS = between_jobs_seconds(LIVENESS)

STARTED_SECONDS = 120  # a child's start on a loaded machine, generously
REPLACED_WITHIN = FROZEN_AFTER + 5  # silent that long, then killed and started again
ANSWERED_WITHIN = FROZEN_AFTER + 10  # the port answers again
STOPPED_WITHIN = 45  # a worker asked to stop ends at once: a loaded machine's seconds, generously
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


@pytest.fixture
def short_liveness(monkeypatch: pytest.MonkeyPatch) -> None:
    """`LIVENESS`, in the environment the processes this test starts read their settings from (`spawn` hands them this
    process's)."""
    for name, value in LIVENESS_ENV.items():
        monkeypatch.setenv(name, value)
    read = LivenessSettings(_env_file=None)
    assert read.model_dump(include=LIVENESS_FIELDS) == LIVENESS.model_dump(include=LIVENESS_FIELDS)


def test_the_liveness_settings_keep_productions_timings_and_refuse_unsafe_ones() -> None:
    """Production waits as it always did; a process called frozen within three beats, or a worker's wait for a job of
    0 s (Redis's "for ever"), is refused at start-up."""
    production = LivenessSettings.model_construct()  # the defaults alone, whatever this environment sets
    assert production.gateway_frozen_after_seconds == 10.0 and production.gateway_worker_dequeue_seconds == 5
    assert production.gateway_worker_redis_answer_seconds == 10 and production.gateway_worker_redis_connect_seconds == 5
    assert between_jobs_seconds(production) == 25
    for name, unsafe in (("gateway_frozen_after_seconds", 2.5), ("gateway_worker_dequeue_seconds", 0),
                         ("gateway_worker_redis_answer_seconds", 0), ("gateway_worker_redis_connect_seconds", 0)):
        with pytest.raises(ValidationError, match=name):
            LivenessSettings.model_validate({name: unsafe})


def beating(child: Child) -> bool:
    return child.heartbeat is not None and child.heartbeat.last_beat is not None


def until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)


def answers(port: int) -> bool:
    return new_connection_answered(port)


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
    children = [spawn(f"web-{i}", str(port), module="tests.fakes.web_process", frozen_after=FROZEN_AFTER)
                for i in range(2)]
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
        assert replaced >= FROZEN_AFTER - 1.5  # silent for that long: no sooner (its last beat was before)
        assert not alive(frozen)
        replacement = children[1].process.pid
        until(lambda: beating(children[1]) and listening_on(replacement, port), STARTED_SECONDS,
              "the replacement up")
        assert sum(answers(port) for _ in range(WINDOW)) >= 0.99 * WINDOW  # both serve
        assert replaced_count(shared, "web-1") == 1 and replaced_count(shared, "web-0") == 0


def test_a_stopped_web_process_is_killed_and_replaced_and_the_port_answers_again(
    shared: Path, short_liveness: None
) -> None:
    """SIGSTOP: nothing of the process runs (its own watchdog neither), only the supervisor can tell."""
    freeze_and_recover(shared, signal.SIGSTOP)


def test_a_web_process_whose_loop_is_held_is_killed_and_replaced_and_the_port_answers_again(
    shared: Path, short_liveness: None
) -> None:
    """Its loop waits for a lock it holds (as the GC callback did): its threads run, its loop never again."""
    freeze_and_recover(shared, signal.SIGUSR1)


@pytest.fixture
def service_env(clean: None, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `gateway run` gives its children: the suite's PostgreSQL and Redis."""
    for name, value in (("DATABASE_URL", settings.database_url), ("REDIS_URL", settings.redis_url)):
        monkeypatch.setenv(name, value or "")
    monkeypatch.setenv("LOG_JSON", "false")


def test_gateway_web_beats_once_started(service_env: None, shared: Path, settings: Settings) -> None:
    """The service's own web process: its loop's ticks reach the supervisor once it has started and listens."""
    port = free_port()
    children = [spawn("web-0", "web", "--host", "127.0.0.1", "--port", str(port),
                      frozen_after=settings.gateway_frozen_after_seconds)]
    with supervised(children, Replacements()):
        until(lambda: beating(children[0]) and listening_on(children[0].process.pid, port), STARTED_SECONDS,
              "gateway web up and beating")
        assert answers(port)


def test_a_stopped_worker_is_replaced(service_env: None, shared: Path, short_liveness: None) -> None:
    children = [spawn("worker-1", "worker", "--no-cron", frozen_after=FROZEN_AFTER)]
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


# Longer than a worker may go between two marks of progress outside a job, and the supervisor's wait after that
LONG_JOB_SECONDS = BETWEEN_JOBS + FROZEN_AFTER + 5
HELD_JOB_TIMEOUT = 1


def test_a_worker_held_past_its_jobs_time_out_is_replaced_and_one_in_a_long_job_is_not(
    service_env: None, shared: Path, settings: Settings, short_liveness: None
) -> None:
    """A worker beats from a thread, but only while its main thread shows progress: one whose job swallowed its own
    time-out and waits on a lock for good stops beating once that time-out and a margin are past, and is replaced;
    one whose job runs long, within its time-out, beats all along."""
    children = [spawn(f"worker-{i}", "worker", "--no-cron", frozen_after=FROZEN_AFTER) for i in range(2)]
    with supervised(children, Replacements()), sync_redis(settings.redis_url or "") as connection:
        until(lambda: all(beating(c) for c in children), STARTED_SECONDS, "the workers up")
        first = {c.name: c.process.pid for c in children}
        queue = job_queue(connection)
        long = queue.enqueue("tests.fakes.worker_jobs.work_for", LONG_JOB_SECONDS, job_timeout=2 * LONG_JOB_SECONDS)
        until(lambda: long.get_status(refresh=True) == JobStatus.STARTED, STARTED_SECONDS, "the long job taken")
        held = queue.enqueue("tests.fakes.worker_jobs.hold_the_main_thread", job_timeout=HELD_JOB_TIMEOUT)
        until(lambda: held.get_status(refresh=True) == JobStatus.STARTED, STARTED_SECONDS, "the held job taken")
        since = time.monotonic()
        until(lambda: any(c.process.pid != first[c.name] for c in children),
              HELD_JOB_TIMEOUT + BETWEEN_JOBS + FROZEN_AFTER + REPLACED_WITHIN, "the held worker replaced")
        assert time.monotonic() - since >= HELD_JOB_TIMEOUT + BETWEEN_JOBS  # its job had its allowance
        until(lambda: long.get_status(refresh=True) == JobStatus.FINISHED, 2 * LONG_JOB_SECONDS, "the long job done")
        assert sum(c.process.pid != first[c.name] for c in children) == 1
        assert sum(replaced_count(shared, c.name) for c in children) == 1


def test_a_worker_asked_to_stop_while_it_waits_for_redis_after_a_job_stops(settings: Settings, tmp_path: Path) -> None:
    """Redis lost as a job ends: the job's end cannot be written, the worker's loop ends and it waits for Redis. A
    SIGTERM then must end it, not be forgotten when Redis answers again and another worker starts."""
    server = EmbeddedRedis(tmp_path / "redis")
    url = server.start()
    done, log = tmp_path / "done", tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen([sys.executable, "-m", "assembly.cli", "worker", "--no-cron"],
                                  env=command_env(settings, REDIS_URL=url), start_new_session=True, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        with sync_redis(url) as connection:
            job = job_queue(connection).enqueue("tests.fakes.worker_jobs.work_until", str(done))
            until(lambda: job.get_status(refresh=True) == JobStatus.STARTED, STARTED_SECONDS, "the job taken")
        server.stop()
        done.touch()  # the job ends while Redis is away
        until(lambda: "the worker ended without being asked to" in log.read_text(), STARTED_SECONDS,
              "the worker waiting for Redis")
        worker.send_signal(signal.SIGTERM)
        server.start()
        until(lambda: worker.poll() is not None, STOPPED_WITHIN, f"the worker stopped: {log.read_text()}")
        assert worker.returncode == 0, log.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):  # what it left running too
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        server.stop()


def test_a_worker_whose_redis_host_is_cut_off_gives_its_connection_up_and_beats_all_along(
    settings: Settings, tmp_path: Path
) -> None:
    """A Redis host lost in a partition answers nothing and resets nothing: the worker's wait for a job used to end
    only at RQ's own socket time-out (415 s), its main thread held, its beats stopped. Each call now fails a few
    seconds past its longest wait, and the worker waits for Redis again, showing progress all along."""
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    partitioned, pipe = PartitionedRedis(server.socket_path), HeartbeatPipe(FROZEN_AFTER)
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen([sys.executable, "-m", "assembly.cli", "worker", "--no-cron"],
                                  env=command_env(settings, REDIS_URL=partitioned.url, **LIVENESS_ENV)
                                  | pipe.child_environment(),
                                  start_new_session=True, stdout=out, stderr=subprocess.STDOUT,
                                  pass_fds=(pipe.write_end,))
    pipe.started_child()

    def gave_up() -> bool:
        assert not pipe.frozen(time.monotonic()), log.read_text()
        return "the worker ended without being asked to" in log.read_text()

    try:
        until(lambda: pipe.silent_for(time.monotonic()) < FROZEN_AFTER and pipe.last_beat is not None
              and "Listening on" in log.read_text(), STARTED_SECONDS, "the worker waiting for a job")
        partitioned.cut()
        # its wait for a job, then its teardown's two calls (the scheduler's and its own), each timed out
        until(gave_up, 4 * (LIVENESS.gateway_worker_dequeue_seconds + LIVENESS.gateway_worker_redis_answer_seconds),
              "the worker gave its connection up")
        assert worker.poll() is None, log.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        pipe.close()
        partitioned.close()
        server.stop()


ENQUEUER = "multiprocessing.spawn"  # how a worker's periodic enqueuer shows in /proc


def test_a_workers_periodic_enqueuer_is_not_handed_the_heartbeat_pipes_number(
    service_env: None, shared: Path, settings: Settings
) -> None:
    """The enqueuer is no child of the supervisor's: the number would be another file there."""
    children = [spawn("worker-1", "worker", frozen_after=settings.gateway_frozen_after_seconds)]
    with supervised(children, Replacements()):
        until(lambda: child_of(children[0].process.pid, ENQUEUER) is not None, STARTED_SECONDS, "the enqueuer up")
        enqueuer = child_of(children[0].process.pid, ENQUEUER)
        environment = Path(f"/proc/{enqueuer}/environ").read_bytes().split(b"\0")
    names = {entry.split(b"=", 1)[0].decode() for entry in environment}
    assert "REDIS_URL" in names and HEARTBEAT_FD_ENV not in names
