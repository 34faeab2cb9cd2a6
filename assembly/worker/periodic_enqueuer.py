"""The worker's periodic enqueuer: a child process of its own that puts each periodic job on the queue once per
interval, whatever the number of workers and hosts, and outlives Redis's outages.

Apart from the worker's module: a spawned child imports the module of the function it runs, and this one needs
neither the channels nor the providers nor the database's models (a second of CPU, tens of MB a worker). The
worker hands it the jobs and its logging choices (`assembly.worker.rq_worker.periodic_jobs`)."""

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

from rq import Queue

from assembly.logs import setup_logging
from gateway.jobs.queues import DEFAULT_QUEUE, job_queue, sync_redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    function: str  # the RQ job's dotted name
    interval: int  # seconds between runs
    args: tuple[str, ...] = ()
    slot_name: str = ""  # in its job id (default: the function's name)


PERIODIC_JOB_TIMEOUT = 300  # seconds; a reconciler pass ends within it by its deadlines (ReconcileTimes)


def periodic_job_id(job: PeriodicJob, now: float) -> str:
    """One id per job per time slot: several schedulers enqueue each run once between them."""
    return f"periodic-{job.slot_name or job.function.rsplit('.', 1)[-1]}-{int(now // job.interval)}"


def enqueue_due_jobs(queue: Queue, jobs: Iterable[PeriodicJob], now: float) -> int:
    """Enqueue the periodic jobs whose slot has no job yet; returns how many were enqueued."""
    enqueued = 0
    for job in jobs:
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


def enqueue_or_wait(queue: Queue, jobs: Iterable[PeriodicJob], outage: Outage) -> float:
    """Enqueue what is due; returns how long to wait before the next try. Never raises an Exception."""
    try:
        enqueue_due_jobs(queue, jobs, time.time())
    except Exception as exc:  # Redis paused, restarting or unreachable: the loop must outlive it
        return outage.failed(exc, time.time())
    return outage.succeeded(time.time())


def run_periodic(redis_url: str, worker: int, jobs: tuple[PeriodicJob, ...], logging_set_up: tuple[str, bool],
                 tick: float = 0.5) -> None:
    """Enqueue each periodic job once per interval until SIGTERM, or until the worker that started
    it is gone (a worker killed with SIGKILL cannot stop it, and its replacement starts another).
    Redis errors only delay it (see `Outage`).

    (RQ's own CronScheduler enqueues with pickle, which our JSON-serialising worker cannot read.)
    """
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(0)))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the worker's: it stops this when it stops
    level, json = logging_set_up  # a spawned process: the worker's choices, but none of its logging set-up
    setup_logging(level, json=json)
    queue = job_queue(sync_redis(redis_url), DEFAULT_QUEUE)
    outage = Outage(tick)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        while os.getppid() == worker:
            time.sleep(enqueue_or_wait(queue, jobs, outage))


class PeriodicEnqueuer:
    """A worker's periodic-enqueuer child, started again whenever it dies (an error it did not
    survive, the OOM killer, a stray kill): without it no reconciler pass would ever run again."""

    def __init__(self, redis_url: str, jobs: tuple[PeriodicJob, ...], logging_set_up: tuple[str, bool]) -> None:
        self._redis_url = redis_url
        self._jobs = jobs
        self._logging_set_up = logging_set_up
        self._stopping = threading.Event()
        self._process = self._spawn()
        self._started = time.monotonic()
        self._watcher = threading.Thread(target=self._watch, name="periodic-watcher", daemon=True)
        self._watcher.start()

    def _spawn(self) -> BaseProcess:
        process = multiprocessing.get_context("spawn").Process(
            target=run_periodic, args=(self._redis_url, os.getpid(), self._jobs, self._logging_set_up),
            name="gateway-periodic", daemon=True
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
