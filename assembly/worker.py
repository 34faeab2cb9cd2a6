"""`gateway worker`: the RQ worker (with RQ's scheduler for delayed jobs) and the periodic jobs."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from rq import SimpleWorker
from rq.serializers import JSONSerializer

from assembly.channel_list import CHANNELS
from assembly.job_runtime import close_runtime
from assembly.passes import PASSES, PassJob
from assembly.periodic_enqueuer import MAX_OUTAGE_WAIT, PeriodicEnqueuer, PeriodicJob
from assembly.provider_list import PROVIDERS
from gateway.core.worker_passes import PASS_JOB, WorkerPass
from gateway.jobs.queues import QUEUE_NAMES, job_queue, sync_redis
from gateway.kit.channel_parts import CHANNEL_JOB
from gateway.kit.provider_parts import PROVIDER_JOB

log = logging.getLogger(__name__)


def periodic_jobs(passes: Iterable[WorkerPass] = PASSES) -> tuple[PeriodicJob, ...]:
    """The passes the worker runs by itself (`WorkerPass.every`), then each channel's and each provider's
    (`ChannelParts.periodic_jobs`, `ProviderParts.periodic_jobs`)."""
    own = tuple(PeriodicJob(PASS_JOB, each.every, (each.name,), each.name) for each in passes if each.every)
    channels = tuple(PeriodicJob(CHANNEL_JOB, interval, (parts.name, job), f"{parts.name}-{job}")
                     for parts in CHANNELS for job, interval in parts.periodic_jobs)
    providers = tuple(PeriodicJob(PROVIDER_JOB, interval, (parts.name, job), f"{parts.name}-{job}")
                      for parts in PROVIDERS for job, interval in parts.periodic_jobs)
    return own + channels + providers


PERIODIC_JOBS = periodic_jobs()


# How often a worker looks again for RQ's scheduler lock (RQ's default is 10 minutes): a worker
# replaced after a SIGKILL gets its scheduler back a minute after the dead one's lock runs out.
SCHEDULER_LOOK_SECONDS = 60


# Where RQ writes its INFO lines about each job (taken, OK, result kept, completed), each registry
# clean-up and its pub/sub plumbing: with periodic jobs every 5 and 10 s they were nineteen lines in
# twenty of an idle log. Its start, its queues and its shut-down stay at INFO.
RQ_PER_JOB_FUNCTIONS = frozenset({"dequeue_job_and_maintain_ttl", "perform_job", "handle_job_success",
                                  "clean_registries", "subscribe", "unsubscribe"})


class PerJobLinesAtDebug(logging.Filter):
    """Demotes RQ's per-job INFO lines to DEBUG: shown only with LOG_LEVEL=DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or record.funcName not in RQ_PER_JOB_FUNCTIONS:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_rq_per_job_lines() -> None:
    rq_worker = logging.getLogger("rq.worker")
    if not any(isinstance(f, PerJobLinesAtDebug) for f in rq_worker.filters):
        rq_worker.addFilter(PerJobLinesAtDebug())


def run_worker(redis_url: str, logging_set_up: tuple[str, bool], *, with_cron: bool = True, burst: bool = False,
               queue_names: tuple[str, ...] = QUEUE_NAMES) -> bool:
    """Work the queues (payments first); returns whether the worker did any job in burst mode. `logging_set_up`
    (level, JSON or not) is the worker's own, for its periodic enqueuer."""
    connection = sync_redis(redis_url)
    queues = [job_queue(connection, name) for name in queue_names]
    periodic = PeriodicEnqueuer(redis_url, PERIODIC_JOBS, logging_set_up) if with_cron and not burst else None
    try:
        # SimpleWorker runs jobs in this process, sharing one job runtime (see assembly.job_runtime.JobRuntime);
        # job time-outs still apply. Run several worker processes for parallelism.
        worker = SimpleWorker(queues, connection=connection, serializer=JSONSerializer, job_class=PassJob,
                              maintenance_interval=SCHEDULER_LOOK_SECONDS)
        # RQ waits twice as long after each failed try to reach Redis, up to a minute: after an outage of a
        # minute or two the reconciler and the receipts would stay idle up to a minute more with Redis back.
        worker.max_connection_wait_time = MAX_OUTAGE_WAIT
        quiet_rq_per_job_lines()
        # No logging_level: RQ then keeps LOG_LEVEL and, as our handler is in place, adds no handler of its own.
        return bool(worker.work(with_scheduler=True, burst=burst, logging_level=None))
    finally:
        close_runtime()
        if periodic is not None:
            periodic.stop()
