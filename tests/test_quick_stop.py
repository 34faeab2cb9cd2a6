"""Stopping the service (Ctrl-C on `make run`, SIGTERM from systemd or Docker) is quick, whatever a worker is doing:
a job under way is given a moment, then cut short; its work is taken up again at the next start. A worker in a pass
that paces its provider's status calls held the stop until `gateway run` killed it, 30 s later."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rq.job import JobStatus

from assembly.machine.supervisor import spawn, stop_children
from assembly.settings import Settings
from assembly.worker.rq_worker import JOB_STOP_GRACE_SECONDS
from gateway.jobs.queues import job_queue, sync_redis
from tests.jobs.worker_stopped_at import SERVE, SLOW_BOOKKEEPING_SECONDS, STOPPED_AFTER
from tests.waiting import HANG_SECONDS

STARTED_SECONDS = 120  # a worker's start on a loaded machine, generously
STOPPED_WITHIN = JOB_STOP_GRACE_SECONDS + 8  # the job's moment, then the worker's own teardown on a loaded machine
LONG = 600.0


@pytest.fixture
def worker_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("DATABASE_URL", settings.database_url), ("REDIS_URL", settings.redis_url)):
        monkeypatch.setenv(name, value or "")
    monkeypatch.setenv("LOG_JSON", "false")


@pytest.mark.parametrize("job", ["wait_in_the_job_runtime", "busy_for"])
def test_a_worker_in_a_long_job_stops_within_seconds(worker_env: None, settings: Settings, job: str) -> None:
    with sync_redis(settings.redis_url or "") as connection:
        queue = job_queue(connection)
        queue.empty()
        long = queue.enqueue(f"tests.fakes.stoppable_jobs.{job}", LONG, job_timeout=2 * LONG)
        worker = spawn("worker-0", "worker", "--no-cron")
        try:
            deadline = time.monotonic() + STARTED_SECONDS
            while long.get_status(refresh=True) != JobStatus.STARTED:
                assert time.monotonic() < deadline, "the long job was not taken"
                assert worker.process.poll() is None, "the worker exited"
                time.sleep(0.05)
            asked = time.monotonic()
            stop_children([worker])
            took = time.monotonic() - asked
        finally:
            worker.process.kill()
        assert took < STOPPED_WITHIN, f"the worker took {took:.1f} s to stop"
        assert worker.process.returncode == 0
        assert long.get_status(refresh=True) == JobStatus.FAILED  # cut short; a pass runs again on its schedule


# A job that would outlast the test's patience were the stop undone, yet ends soon enough to show it.
OUTLASTS_THE_STOP = 60.0


@dataclass
class WorkerForks:
    """A process that imported the worker once and forks one for each moment asked (tests.jobs.worker_stopped_at
    --serve): a process started for each paid the worker's imports, seconds of CPU, every time."""

    process: subprocess.Popen[bytes]
    unread: bytes = b""

    def exit_code(self, folder: Path, seconds: float) -> int:
        """The exit code of the worker whose output went to `folder`, within `seconds`."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + seconds
        while True:
            line, newline, self.unread = self.unread.partition(b"\n")
            if newline:
                code, _, written_to = line.decode().partition("\t")
                if written_to == str(folder):
                    return int(code)
                continue  # the answer to a test that gave up waiting for it
            self.unread = line
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"the worker did not end within {seconds:.0f} s"
            chunk = os.read(self.process.stdout.fileno(), 256)
            assert chunk, "the process forking the workers ended"
            self.unread += chunk

    def stopped_after(self, moment: str, folder: Path) -> float:
        """How long a worker asked to stop at `moment` of its job (tests.jobs.worker_stopped_at) took to end."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{moment}\t{folder}\n".encode())
        self.process.stdin.flush()
        code = self.exit_code(folder, HANG_SECONDS)
        stdout, stderr = (folder / "stdout").read_text(), (folder / "stderr").read_text()
        assert code == 0, stderr
        said = [line for line in stdout.splitlines() if line.startswith(STOPPED_AFTER)]
        assert said, f"the worker did not end its work: {stdout}{stderr}"
        return float(said[-1].removeprefix(STOPPED_AFTER))


@pytest.fixture(scope="module")
def worker_forks(settings: Settings) -> Iterator[WorkerForks]:
    environment = {**os.environ, "DATABASE_URL": settings.database_url or "", "REDIS_URL": settings.redis_url or "",
                   "LOG_JSON": "false"}
    process = subprocess.Popen([sys.executable, "-m", "tests.jobs.worker_stopped_at", SERVE], env=environment,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    try:
        yield WorkerForks(process)
    finally:
        with contextlib.suppress(ProcessLookupError):  # a worker that hung goes with it, in its group
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize("job", ["wait_in_the_job_runtime", "busy_for"])
def test_a_stop_asked_as_the_job_starts_is_not_undone_by_its_time_out(
        worker_forks: WorkerForks, settings: Settings, job: str, tmp_path: Path) -> None:
    """RQ marks a job STARTED, then arms its time-out: a stop asked in between still ends the job within seconds."""
    with sync_redis(settings.redis_url or "") as connection:
        queue = job_queue(connection)
        queue.empty()
        long = queue.enqueue(f"tests.fakes.stoppable_jobs.{job}", OUTLASTS_THE_STOP, job_timeout=2 * LONG)
        took = worker_forks.stopped_after("started", tmp_path)
        assert took < STOPPED_WITHIN, f"the worker took {took:.1f} s to stop"
        assert long.get_status(refresh=True) == JobStatus.FAILED


def test_a_stop_asked_as_a_job_is_recorded_leaves_it_done(worker_forks: WorkerForks, settings: Settings,
                                                          tmp_path: Path) -> None:
    """A job whose body was done when the stop came is recorded done, however slow RQ's bookkeeping of it."""
    with sync_redis(settings.redis_url or "") as connection:
        queue = job_queue(connection)
        queue.empty()
        done = queue.enqueue("tests.fakes.stoppable_jobs.busy_for", 0, job_timeout=LONG)
        took = worker_forks.stopped_after("ended", tmp_path)
        assert took < SLOW_BOOKKEEPING_SECONDS + STOPPED_WITHIN
        assert done.get_status(refresh=True) == JobStatus.FINISHED


def test_a_job_past_its_time_out_still_ends(worker_forks: WorkerForks, settings: Settings,
                                            tmp_path: Path) -> None:
    """The job's time-out, armed with the stop's, still ends a job nobody stopped."""
    with sync_redis(settings.redis_url or "") as connection:
        queue = job_queue(connection)
        queue.empty()
        late = queue.enqueue("tests.fakes.stoppable_jobs.busy_for", OUTLASTS_THE_STOP, job_timeout=1)
        worker_forks.stopped_after("never", tmp_path)
        assert late.get_status(refresh=True) == JobStatus.FAILED
        assert "exceeded maximum timeout value (1 seconds)" in (late.latest_result().exc_string or "")
