"""`gateway worker`: the RQ worker (with RQ's scheduler for delayed jobs) and the periodic jobs."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from assembly.channel_list import CHANNELS
from assembly.job_runtime import close_runtime
from assembly.logs import json_wanted, setup_logging
from assembly.passes import PASSES, PassJob
from assembly.provider_list import PROVIDERS
from assembly.settings import Settings
from gateway.core.worker_passes import PASS_JOB, WorkerPass
from gateway.jobs.queues import DEFAULT_QUEUE, QUEUE_NAMES, job_queue, sync_redis
from gateway.kit.channel_parts import CHANNEL_JOB
from gateway.kit.provider_parts import PROVIDER_JOB

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    function: str  # the RQ job's dotted name
    interval: int  # seconds between runs
    args: tuple[str, ...] = ()
    slot_name: str = ""  # in its job id (default: the function's name)


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


PERIODIC_JOB_TIMEOUT = 300  # seconds; a reconciler pass stops itself before (worker_jobs.RECONCILE_PASS_SECONDS)
# How often a worker looks again for RQ's scheduler lock (RQ's default is 10 minutes): a worker
# replaced after a SIGKILL gets its scheduler back a minute after the dead one's lock runs out.
SCHEDULER_LOOK_SECONDS = 60


def periodic_job_id(job: PeriodicJob, now: float) -> str:
    """One id per job per time slot: several schedulers enqueue each run once between them."""
    return f"periodic-{job.slot_name or job.function.rsplit('.', 1)[-1]}-{int(now // job.interval)}"


def enqueue_due_jobs(queue: Queue, now: float) -> int:
    """Enqueue the periodic jobs whose slot has no job yet; returns how many were enqueued."""
    enqueued = 0
    for job in PERIODIC_JOBS:
        job_id = periodic_job_id(job, now)
        if queue.fetch_job(job_id) is None:
            queue.enqueue(job.function, *job.args, job_id=job_id, job_timeout=PERIODIC_JOB_TIMEOUT,
                          result_ttl=max(60, job.interval * 3), failure_ttl=86400)
            enqueued += 1
    return enqueued


MAX_OUTAGE_WAIT = 4.0  # seconds between tries while Redis is away: back within a tick of its return
WATCH_SECONDS = 1.0  # how often a worker looks whether its periodic enqueuer still runs
RESPAWN_SECONDS = 5.0  # at least this long between two starts of it, should each die at once


@dataclass
class Outage:
    """The enqueuer's view of a Redis (or any) outage: one line when it starts, one when it ends,
    and a wait that doubles in between (a stall of minutes must not fill the log)."""

    tick: float
    since: float | None = None
    wait: float = 0.0

    def failed(self, exc: Exception, now: float) -> float:
        if self.since is None:
            self.since = now
            log.warning("periodic jobs cannot be enqueued (%r); trying again until Redis answers", exc)
        self.wait = min(MAX_OUTAGE_WAIT, max(self.tick, self.wait * 2))
        return self.wait

    def succeeded(self, now: float) -> float:
        if self.since is not None:
            log.info("periodic jobs are enqueued again, after %.0f s", now - self.since)
        self.since, self.wait = None, 0.0
        return self.tick


def enqueue_or_wait(queue: Queue, outage: Outage) -> float:
    """Enqueue what is due; returns how long to wait before the next try. Never raises an Exception."""
    try:
        enqueue_due_jobs(queue, time.time())
    except Exception as exc:  # Redis paused, restarting or unreachable: the loop must outlive it
        return outage.failed(exc, time.time())
    return outage.succeeded(time.time())


def run_periodic(redis_url: str, worker: int, tick: float = 0.5) -> None:
    """Enqueue each periodic job once per interval until SIGTERM, or until the worker that started
    it is gone (a worker killed with SIGKILL cannot stop it, and its replacement starts another).
    Redis errors only delay it (see `Outage`).

    (RQ's own CronScheduler enqueues with pickle, which our JSON-serialising worker cannot read.)
    """
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(0)))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the worker's: it stops this when it stops
    settings = Settings()  # a spawned process: the worker's environment, but none of its logging set-up
    setup_logging(settings.log_level, json=json_wanted(settings))
    queue = job_queue(sync_redis(redis_url), DEFAULT_QUEUE)
    outage = Outage(tick)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        while os.getppid() == worker:
            time.sleep(enqueue_or_wait(queue, outage))


class PeriodicEnqueuer:
    """A worker's periodic-enqueuer child, started again whenever it dies (an error it did not
    survive, the OOM killer, a stray kill): without it no reconciler pass would ever run again."""

    def __init__(self, redis_url: str) -> None:
        self._redis_url = redis_url
        self._stopping = threading.Event()
        self._process = self._spawn()
        self._started = time.monotonic()
        self._watcher = threading.Thread(target=self._watch, name="periodic-watcher", daemon=True)
        self._watcher.start()

    def _spawn(self) -> BaseProcess:
        process = multiprocessing.get_context("spawn").Process(
            target=run_periodic, args=(self._redis_url, os.getpid()), name="gateway-periodic", daemon=True
        )
        process.start()
        return process

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_SECONDS):
            if self._process.is_alive() or time.monotonic() - self._started < RESPAWN_SECONDS:
                continue
            log.error("the periodic enqueuer exited (code %s); starting another", self._process.exitcode)
            self._process.join(timeout=0)  # reap it
            self._process, self._started = self._spawn(), time.monotonic()

    def stop(self) -> None:
        self._stopping.set()
        self._watcher.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)


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


def run_worker(redis_url: str, *, with_cron: bool = True, burst: bool = False,
               queue_names: tuple[str, ...] = QUEUE_NAMES) -> bool:
    """Work the queues (payments first); returns whether the worker did any job in burst mode."""
    connection = sync_redis(redis_url)
    queues = [job_queue(connection, name) for name in queue_names]
    periodic = PeriodicEnqueuer(redis_url) if with_cron and not burst else None
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
