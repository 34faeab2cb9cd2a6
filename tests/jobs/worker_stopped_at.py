"""A worker asked to stop (SIGTERM, as `gateway run` sends it) at a chosen moment of its job, through RQ's own steps:
its methods, overridden here as any RQ worker subclass may, never the project's. Run as
`python -m tests.jobs.worker_stopped_at MOMENT` with REDIS_URL and DATABASE_URL set: it works the default queue until
it is empty or it stops, then prints how long it took from the stop to its end (`STOPPED_AFTER` and seconds).

The moments a signal in a job's body (tests/test_quick_stop.py) does not reach:
- `started`: the job is marked STARTED, its body's time-out is not armed yet;
- `ended`: the body is done and RQ's bookkeeping of it is under way, slower than the stop's grace;
and `never`: a worker nobody stops.
"""

from __future__ import annotations

import os
import signal
import sys
import time

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


if __name__ == "__main__":
    main(sys.argv[1])
