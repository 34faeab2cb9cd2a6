"""A worker asked to stop (SIGTERM, as `gateway run` sends it) at a chosen moment of its job, through RQ's own steps:
its methods, overridden here as any RQ worker subclass may, never the project's. Run as
`python -m tests.jobs.worker_stopped_at MOMENT` with REDIS_URL and DATABASE_URL set: it works the default queue until
it is empty or it stops, then prints how long it took from the stop to its end (`STOPPED_AFTER` and seconds).

`python -m tests.jobs.worker_stopped_at --serve` imports the worker once and, for each line `MOMENT<TAB>FOLDER` it
reads, forks a process that runs as the command above would (its output in FOLDER/stdout and FOLDER/stderr), then
writes that process's exit code and FOLDER on a line: a process start costs the worker's imports, seconds of CPU,
and a test module asks for several moments.

The moments a signal in a job's body (tests/test_quick_stop.py) does not reach:
- `started`: the job is marked STARTED, its body's time-out is not armed yet;
- `ended`: the body is done and RQ's bookkeeping of it is under way, slower than the stop's grace;
and `never`: a worker nobody stops.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from rq.job import Job
from rq.queue import Queue
from rq.serializers import JSONSerializer

from assembly.settings import LivenessSettings
from assembly.worker.job_runtime import close_runtime
from assembly.worker.passes import PassJob
from assembly.worker.rq_worker import JOB_STOP_GRACE_SECONDS, Worker, worker_connection
from gateway.jobs.queues import job_queue

MOMENTS = ("started", "ended", "never")
SLOW_BOOKKEEPING_SECONDS = JOB_STOP_GRACE_SECONDS + 1.0  # what a Redis slow to answer costs RQ's bookkeeping
STOPPED_AFTER = "stopped after"


class WorkerStoppedAt(Worker):
    moment = ""
    asked_at = 0.0

    def ask_to_stop(self) -> None:
        self.asked_at = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)  # handled before the next statement: a signal to oneself arrives at once

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        super().prepare_job_execution(job, remove_from_intermediate_queue)
        if self.moment == "started":
            self.ask_to_stop()

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        if self.moment == "ended" and not self.asked_at:  # RQ calls it again for a job that failed
            self.ask_to_stop()
            time.sleep(SLOW_BOOKKEEPING_SECONDS)
        super().handle_execution_ended(job, queue, heartbeat_ttl)


def main(moment: str) -> None:
    if moment not in MOMENTS:
        raise SystemExit(f"a moment of {MOMENTS}, not {moment!r}")
    liveness = LivenessSettings()  # from the environment, as `gateway worker` reads its settings
    connection = worker_connection(os.environ["REDIS_URL"], liveness)
    worker = WorkerStoppedAt([job_queue(connection)], connection=connection, serializer=JSONSerializer,
                             job_class=PassJob, liveness=liveness)
    worker.moment = moment
    try:
        worker.work(burst=True, logging_level=None)  # RQ's own log lines to standard error, not here
        print(STOPPED_AFTER, f"{time.monotonic() - worker.asked_at:.3f}", flush=True)
    finally:
        close_runtime()


SERVE = "--serve"


def write_to(path: Path, fd: int) -> None:
    opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(opened, fd)
    os.close(opened)


def serve() -> None:
    """Each moment asked for on standard input in a forked process of its own, its exit code answered."""
    for request in sys.stdin:
        moment, folder = request.rstrip("\n").split("\t")
        # A fork copies only the thread that calls it: one holding a lock (another thread's) would hang the child.
        if threading.active_count() != 1:
            raise SystemExit(f"threads running before a fork: {threading.enumerate()}")
        child = os.fork()
        if child == 0:
            write_to(Path(folder) / "stdout", sys.stdout.fileno())
            write_to(Path(folder) / "stderr", sys.stderr.fileno())
            main(moment)
            return  # the child ends as a process started for this moment would: its exit code, its exit hooks
        _, status = os.waitpid(child, 0)
        print(os.waitstatus_to_exitcode(status), folder, sep="\t", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == SERVE:
        serve()
    else:
        main(sys.argv[1])
