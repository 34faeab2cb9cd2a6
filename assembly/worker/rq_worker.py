"""`gateway worker`: the RQ worker (with RQ's scheduler for delayed jobs) and the periodic jobs."""

from __future__ import annotations

import logging
import math
import signal
import time
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

import redis
from prometheus_client import CollectorRegistry
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.timeouts import BaseDeathPenalty
from rq.utils import now

from assembly.cpu.accounts import CpuAccounts
from assembly.machine.heartbeat import Heartbeat, Progress
from assembly.settings import LivenessSettings
from assembly.worker.job_runtime import close_runtime
from assembly.worker.passes import PASSES, PassJob, part_of_job
from assembly.worker.periodic_enqueuer import MAX_OUTAGE_WAIT, PeriodicEnqueuer, PeriodicJob
from gateway.core.worker_passes import PASS_JOB, WorkerPass
from gateway.jobs.queues import QUEUE_NAMES, job_queue, worker_redis

log = logging.getLogger(__name__)


def periodic_jobs(passes: Iterable[WorkerPass] = PASSES) -> tuple[PeriodicJob, ...]:
    """The passes the worker runs by itself (`WorkerPass.every`): the wings', the channels' and the providers'."""
    return tuple(PeriodicJob(PASS_JOB, each.every, (each.name,), each.name) for each in passes if each.every)


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


# RQ waits for a job in one blocking Redis call of its worker_ttl less 15 s (its dequeue_timeout), then beats to
# Redis and waits again: GATEWAY_WORKER_DEQUEUE_SECONDS, 5 s by default (RQ's default is 405), so its loop shows
# progress every few seconds.
RQ_TTL_PAST_DEQUEUE_SECONDS = 15

# A loaded machine's margin on each step the worker's main loop takes between two marks of progress.
LOADED_MACHINE_SECONDS = 5


def between_jobs_seconds(liveness: LivenessSettings) -> int:
    """How long the worker's main loop may go between two marks of progress outside a job: a wait for a job, or one
    Redis call that gets no answer (connecting, then waiting: `worker_redis`), and a margin for a loaded machine (25 s
    by default). A main thread silent longer stops the heartbeat, and `gateway run` replaces the worker."""
    return (liveness.gateway_worker_dequeue_seconds + liveness.gateway_worker_redis_answer_seconds
            + liveness.gateway_worker_redis_connect_seconds + LOADED_MACHINE_SECONDS)


def worker_connection(redis_url: str, liveness: LivenessSettings) -> redis.Redis:
    """The worker's Redis connection: each call given up past the wait for a job and the margins `liveness` allows
    (`worker_redis`), well within `between_jobs_seconds`."""
    return worker_redis(redis_url, liveness.gateway_worker_dequeue_seconds,
                        liveness.gateway_worker_redis_answer_seconds, liveness.gateway_worker_redis_connect_seconds)


def job_seconds(job: Job, between_jobs: float) -> float:
    """How long a job may hold the worker's main thread: its time-out (RQ's default for a job queued without one),
    then RQ's bookkeeping of its start and end (`between_jobs`); for ever for a job queued never to time out (-1)."""
    timeout = job.timeout or Queue.DEFAULT_TIMEOUT
    return math.inf if timeout < 0 else timeout + between_jobs


# How long a job under way may go on once the worker is asked to stop (Ctrl-C, SIGTERM): a count, a receipt, end
# within it; anything longer is cut short.
JOB_STOP_GRACE_SECONDS = 2.0


class JobStop:
    """When the job under way must end once the worker was asked to stop: `JOB_STOP_GRACE_SECONDS` after the request.
    The job's time-out (`JobDeathPenalty`) arms the nearer of the two limits, whenever the stop comes: RQ marks a job
    STARTED before it arms the time-out of its body, and that arming would otherwise undo a stop asked in between."""

    def __init__(self) -> None:
        self.cut_at = math.inf  # time.monotonic() past which the job's body is cut short
        self.penalty: JobDeathPenalty | None = None  # the time-out armed now (the job's body's), if any

    def asked(self) -> None:
        self.cut_at = min(self.cut_at, time.monotonic() + JOB_STOP_GRACE_SECONDS)
        if self.penalty is not None:
            self.penalty.arm()


class JobDeathPenalty(BaseDeathPenalty):
    """RQ's time-out of a job's body (SIGALRM, as RQ's own `UnixSignalDeathPenalty`) that also ends it a moment after
    a stop request (`JobStop`). RQ's bookkeeping around the body is never cut: a job done stays done. Every limit is
    a moment, not a length, so arming again (at set-up, at a stop) is the same whatever runs in between."""

    stop: JobStop  # the worker's: a subclass per worker sets it (`Worker.__init__`)
    _ends_at = math.inf

    def setup_death_penalty(self) -> None:
        self._ends_at = math.inf if self._timeout < 0 else time.monotonic() + self._timeout  # -1: never times out
        signal.signal(signal.SIGALRM, self.handle_death_penalty)
        self.stop.penalty = self  # a stop asked from here on arms this one again
        self.arm()

    def arm(self) -> None:
        ends_at = min(self._ends_at, self.stop.cut_at)
        # 0 would disarm the timer: a limit already past is a limit now.
        signal.setitimer(signal.ITIMER_REAL, 0 if ends_at == math.inf else max(ends_at - time.monotonic(), 0.001))

    def handle_death_penalty(self, signum: int, frame: FrameType | None) -> None:
        if self.stop.penalty is not self:
            return  # went off as the body ended: nothing left to cut
        if self.stop.cut_at <= self._ends_at:
            raise JobCutShort(f"the worker was asked to stop: this job was cut short after {JOB_STOP_GRACE_SECONDS} s "
                              "(its work is taken up again at the next start)")
        raise self._exception(f"Task exceeded maximum timeout value ({self._timeout} seconds)")

    def cancel_death_penalty(self) -> None:
        self.stop.penalty = None  # first: a stop asked from here on arms nothing
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


class JobCutShort(Exception):
    """Raised in a job's thread as the worker stops: the job's work stops there (the job runtime cancels it)."""


class Worker(SimpleWorker):
    """RQ's in-process worker, knowing whether it was asked to stop and marking its main loop's progress for the
    heartbeat (`assembly.machine.heartbeat.Progress`), each step given the time `liveness` allows it. RQ retries
    Redis only while it waits for a job; Redis lost anywhere else (as a job ends, between two jobs) ends its loop, as
    a stop request does."""

    asked_to_stop = False
    job_under_way = False  # ours, not RQ's state: RQ's stays BUSY when Redis fails as a job ends

    def __init__(self, *args: Any, liveness: LivenessSettings, progress: Progress | None = None,
                 accounts: CpuAccounts | None = None, **kwargs: Any) -> None:
        self.between_jobs = between_jobs_seconds(liveness)
        # before RQ's __init__, which reads it (`connection_timeout`)
        self.redis_answer_seconds = liveness.gateway_worker_redis_answer_seconds
        self.progress = progress or Progress(self.between_jobs)
        self.accounts = accounts  # each job's CPU by part, if given
        self.progress.mark(self.between_jobs)  # RQ's registration asks Redis
        kwargs.setdefault("worker_ttl", liveness.gateway_worker_dequeue_seconds + RQ_TTL_PAST_DEQUEUE_SECONDS)
        super().__init__(*args, **kwargs)
        self.job_stop = JobStop()

        class ThisWorkersPenalty(JobDeathPenalty):
            stop = self.job_stop

        self.death_penalty_class = ThisWorkersPenalty  # RQ arms a job's time-out with it

    @property
    def connection_timeout(self) -> int:
        """The socket time-out RQ raises its connection's to, should it be shorter: its wait for a job and our margin
        for Redis's answer (`worker_redis`). RQ's own margin is 10 s (the default's): a shorter one set would be
        lengthened behind the worker's back, and its calls would outlast what `between_jobs_seconds` allows them."""
        return self.dequeue_timeout + self.redis_answer_seconds

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        """RQ's beat to Redis, at each turn of its loop (each wait for a job): its progress. A job's start beats
        too; the job's own allowance holds then."""
        if not self.job_under_way:
            self.progress.mark(self.between_jobs)
        super().heartbeat(timeout, pipeline)

    def execute_job(self, job: Job, queue: Queue) -> None:
        self.job_under_way = True  # first: a stop asked from here on waits for the job's end
        self.progress.mark(job_seconds(job, self.between_jobs))
        started = time.process_time()  # the process's: the job's coroutine runs in the job runtime's thread
        try:
            super().execute_job(job, queue)
        finally:
            if self.accounts is not None:
                self.accounts.add(part_of_job(job), time.process_time() - started)
            self.job_under_way = False
            self.progress.mark(self.between_jobs)

    def teardown(self) -> None:
        self.progress.mark(self.between_jobs)  # stopping the scheduler, then a Redis call
        super().teardown()  # type: ignore[no-untyped-call]  # RQ leaves it unannotated

    def register_death(self) -> None:
        self.progress.mark(self.between_jobs)
        super().register_death()  # type: ignore[no-untyped-call]

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM or Ctrl-C, handled wherever the main thread was. RQ's own handler writes to Redis and waits for
        its scheduler's exit from there: a Redis that does not answer held it for good, and the job under way with
        it. This one only notes the wish: the worker stops after the job under way, or at once while it waits for one
        (RQ's teardown stops the scheduler then, outside the handler)."""
        self.asked_to_stop = True
        self._shutdown_requested_date = now()  # a second signal within a second is the same request (RQ's rule)
        signal.signal(signal.SIGINT, self.request_force_stop)
        signal.signal(signal.SIGTERM, self.request_force_stop)
        if self.job_under_way:
            self._stop_requested = True  # RQ's loop stops after the job...
            # ...which is given a moment, then cut short: a pass in its paced status checks, a long job, would hold
            # the stop for many seconds. Every job's work is safe to cut (it is safe through a kill -9) and is
            # taken up again at the next start (passes by their schedule, jobs from PostgreSQL).
            self.job_stop.asked()
        else:
            raise StopRequested()  # out of the wait for a job, or for Redis between two workers


# Between two workers, should one end on its own: doubling from the first while each ends soon after its start (a
# fault that ends every one must not spin), back to the first once one has worked a while.
RESTART_WAITS = (0.5, MAX_OUTAGE_WAIT)
WORKED_A_WHILE = 60.0


def redis_answers(connection: redis.Redis, wait: float, worker: Worker) -> bool:
    """Wait, then ping until Redis answers; False when a stop was asked meanwhile (the last worker's signal handlers
    stay in place until the next one installs its own, and may only have noted the stop)."""
    try:
        while not worker.asked_to_stop:
            worker.progress.mark(wait + worker.between_jobs)
            time.sleep(wait)
            try:
                connection.ping()
                return not worker.asked_to_stop
            except RedisError:
                wait = min(RESTART_WAITS[1], wait * 2)
        return False
    except StopRequested:
        return False


def let_go(worker: Worker) -> None:
    """Stop the thread a worker listens on for RQ's commands, which its end leaves running when Redis is away then
    (rq#1496): still subscribed to the dead worker's channel, it would act on a command sent to that worker."""
    thread = worker.pubsub_thread
    if thread is not None and thread.is_alive():
        thread.stop()  # it ends at its next wake-up; a daemon thread, it holds nothing else


def work_until_asked_to_stop(start: Callable[[], Worker], connection: redis.Redis, burst: bool) -> bool:
    """Run workers one after the other until one is asked to stop (or, in burst mode, the first ends); whether any
    did a job. A Redis restart at the wrong moment must not end the worker of a show for good."""
    worked, wait = False, RESTART_WAITS[0]
    try:
        while True:
            worker, began = start(), time.monotonic()
            try:
                worked = bool(worker.work(with_scheduler=True, burst=burst, logging_level=None)) or worked
            except RedisError:  # from its registration, at its start or at its end
                if burst or worker.asked_to_stop:
                    raise
            if burst or worker.asked_to_stop:
                return worked
            let_go(worker)
            wait = RESTART_WAITS[0] if time.monotonic() - began > WORKED_A_WHILE else wait
            log.warning("the worker ended without being asked to (Redis lost, or an error between jobs); another "
                        "starts once Redis answers")
            if not redis_answers(connection, wait, worker):
                return worked
            wait = min(RESTART_WAITS[1], wait * 2)
    except StopRequested:  # a signal between two workers, or before the new worker's handlers were in place
        return worked


def run_worker(redis_url: str, logging_set_up: tuple[str, bool], *, liveness: LivenessSettings, with_cron: bool = True,
               burst: bool = False, queue_names: tuple[str, ...] = QUEUE_NAMES) -> bool:
    """Work the queues (payments first); returns whether the worker did any job in burst mode. `logging_set_up`
    (level, JSON or not) is the worker's own, for its periodic enqueuer; `liveness`, how long its Redis calls and
    the steps of its loop may take."""
    heartbeat = Heartbeat.from_environment()  # out of the environment before anything starts a process
    connection = worker_connection(redis_url, liveness)
    queues = [job_queue(connection, name) for name in queue_names]
    periodic = PeriodicEnqueuer(redis_url, PERIODIC_JOBS, logging_set_up) if with_cron and not burst else None
    progress = Progress(between_jobs_seconds(liveness))
    # Each job's CPU by part (assembly/cpu/accounts.py), served by the web processes where the host shares its figures.
    accounts = CpuAccounts(CollectorRegistry(), "worker")

    def start() -> Worker:
        # SimpleWorker runs jobs in this process, sharing one job runtime (see assembly.worker.job_runtime.JobRuntime);
        # job time-outs still apply. Run several worker processes for parallelism.
        worker = Worker(queues, connection=connection, serializer=JSONSerializer, job_class=PassJob,
                        maintenance_interval=SCHEDULER_LOOK_SECONDS, liveness=liveness, progress=progress,
                        accounts=accounts)
        # RQ waits twice as long after each failed try to reach Redis, up to a minute: after an outage of a
        # minute or two the reconciler and the receipts would stay idle up to a minute more with Redis back.
        worker.max_connection_wait_time = MAX_OUTAGE_WAIT
        return worker

    quiet_rq_per_job_lines()
    heartbeat.keep_beating(progress)  # to `gateway run`'s supervisor, which replaces a silent worker
    try:
        # No logging_level: RQ then keeps LOG_LEVEL and, as our handler is in place, adds no handler of its own.
        return work_until_asked_to_stop(start, connection, burst)
    finally:
        close_runtime()
        if periodic is not None:
            periodic.stop()
