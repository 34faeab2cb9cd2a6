"""`gateway worker`: the RQ worker (with RQ's scheduler for delayed jobs) and the periodic jobs."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing

from rq import Worker
from rq.cron import CronScheduler
from rq.serializers import JSONSerializer

from gateway import jobs
from gateway.queues import DEFAULT_QUEUE, QUEUE_NAMES, job_queue, sync_redis

log = logging.getLogger(__name__)

# (job, seconds between runs). The web process relays the outbox at once; this is the safety net.
PERIODIC_JOBS = (
    (jobs.relay_outbox_job, 5),
    (jobs.expire_stale_orders_job, 30),
)


def run_cron(redis_url: str) -> None:
    """Enqueue each periodic job on its interval until stopped."""
    cron = CronScheduler(connection=sync_redis(redis_url), name="gateway-cron")
    for job, seconds in PERIODIC_JOBS:
        cron.register(job, queue_name=DEFAULT_QUEUE, interval=seconds, job_timeout=120, result_ttl=60)
    cron.start()


def run_worker(redis_url: str, *, with_cron: bool = True, burst: bool = False) -> bool:
    """Work the queues (payments first); returns whether the worker did any job in burst mode."""
    connection = sync_redis(redis_url)
    queues = [job_queue(connection, name) for name in QUEUE_NAMES]
    cron_process = None
    if with_cron and not burst:
        cron_process = multiprocessing.get_context("spawn").Process(
            target=run_cron, args=(redis_url,), name="gateway-cron", daemon=True
        )
        cron_process.start()
    try:
        worker = Worker(queues, connection=connection, serializer=JSONSerializer)
        return bool(worker.work(with_scheduler=True, burst=burst, logging_level="INFO"))
    finally:
        if cron_process is not None and cron_process.is_alive():
            cron_process.terminate()
            with contextlib.suppress(Exception):
                cron_process.join(timeout=5)
