"""Stopping the service (Ctrl-C on `make run`, SIGTERM from systemd or Docker) is quick, whatever a worker is doing:
a job under way is given a moment, then cut short; its work is taken up again at the next start. A worker in a pass
that paces its provider's status calls held the stop until `gateway run` killed it, 30 s later."""

from __future__ import annotations

import time

import pytest
from rq.job import JobStatus

from assembly.settings import Settings
from assembly.supervisor import spawn, stop_children
from assembly.worker import JOB_STOP_GRACE_SECONDS
from gateway.jobs.queues import job_queue, sync_redis

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
