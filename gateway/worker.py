"""`gateway worker`: the RQ worker (with RQ's scheduler for delayed jobs) and the periodic jobs."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import time

from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from gateway.jobs import close_runtime
from gateway.queues import DEFAULT_QUEUE, QUEUE_NAMES, job_queue, sync_redis

log = logging.getLogger(__name__)

# (job, seconds between runs). The web process relays the outbox at once; this is the safety net.
PERIODIC_JOBS = (
    ("gateway.jobs.relay_outbox_job", 5),
    ("gateway.jobs.reconcile_job", 10),
)


PERIODIC_JOB_TIMEOUT = 300  # seconds; a reconciler pass stops itself before (jobs.RECONCILE_PASS_SECONDS)
# How often a worker looks again for RQ's scheduler lock (RQ's default is 10 minutes): a worker
# replaced after a SIGKILL gets its scheduler back a minute after the dead one's lock runs out.
SCHEDULER_LOOK_SECONDS = 60


def periodic_job_id(name: str, interval: int, now: float) -> str:
    """One id per job per time slot: several schedulers enqueue each run once between them."""
    return f"periodic-{name.rsplit('.', 1)[-1]}-{int(now // interval)}"


def enqueue_due_jobs(queue: Queue, now: float) -> int:
    """Enqueue the periodic jobs whose slot has no job yet; returns how many were enqueued."""
    enqueued = 0
    for name, interval in PERIODIC_JOBS:
        job_id = periodic_job_id(name, interval, now)
        if queue.fetch_job(job_id) is None:
            queue.enqueue(name, job_id=job_id, job_timeout=PERIODIC_JOB_TIMEOUT, result_ttl=max(60, interval * 3),
                          failure_ttl=86400)
            enqueued += 1
    return enqueued


def run_periodic(redis_url: str, worker: int, tick: float = 0.5) -> None:
    """Enqueue each periodic job once per interval until SIGTERM, or until the worker that started
    it is gone (a worker killed with SIGKILL cannot stop it, and its replacement starts another).

    (RQ's own CronScheduler enqueues with pickle, which our JSON-serialising worker cannot read.)
    """
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(0)))
    queue = job_queue(sync_redis(redis_url), DEFAULT_QUEUE)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        while os.getppid() == worker:
            enqueue_due_jobs(queue, time.time())
            time.sleep(tick)


def run_worker(redis_url: str, *, with_cron: bool = True, burst: bool = False) -> bool:
    """Work the queues (payments first); returns whether the worker did any job in burst mode."""
    connection = sync_redis(redis_url)
    queues = [job_queue(connection, name) for name in QUEUE_NAMES]
    periodic = None
    if with_cron and not burst:
        periodic = multiprocessing.get_context("spawn").Process(
            target=run_periodic, args=(redis_url, os.getpid()), name="gateway-periodic", daemon=True
        )
        periodic.start()
    try:
        # SimpleWorker runs jobs in this process, sharing one job runtime (see gateway.jobs.JobRuntime);
        # job time-outs still apply. Run several worker processes for parallelism.
        worker = SimpleWorker(queues, connection=connection, serializer=JSONSerializer,
                              maintenance_interval=SCHEDULER_LOOK_SECONDS)
        return bool(worker.work(with_scheduler=True, burst=burst, logging_level="INFO"))
    finally:
        close_runtime()
        if periodic is not None and periodic.is_alive():
            periodic.terminate()
            periodic.join(timeout=5)
