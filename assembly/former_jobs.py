"""Jobs that a release before this one queued under its own names for the worker's functions (they lived in
`gateway.worker_jobs` until the assembly moved out of the foundation). A worker starting on this release
re-points them before it takes any job: an outbox delivery (a receipt), an inbound SMS or a delivery waiting
for its retry that names a former path would otherwise fail to import, and its message would never go."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from rq import Queue
from rq.job import Job

from gateway.kit.channel_parts import CHANNEL_JOB

log = logging.getLogger(__name__)

FORMER = "gateway.worker_jobs."
WORKER_JOBS = ("deliver_outbox_job", "relay_outbox_job", "reconcile_job", "stars_check_job", "verify_by_list_job",
               "ledger_checkpoint_job")
FORMER_NAMES: Mapping[str, str] = {f"{FORMER}{name}": f"assembly.worker_jobs.{name}" for name in WORKER_JOBS} | {
    f"{FORMER}channel_job": CHANNEL_JOB}


def waiting_job_ids(queue: Queue) -> set[str]:
    """Every job of the queue that will still run: queued, waiting for its time or retry, or for another job."""
    return (set(queue.get_job_ids()) | set(queue.scheduled_job_registry.get_job_ids())
            | set(queue.deferred_job_registry.get_job_ids()))


def adopt_former_jobs(queues: Sequence[Queue]) -> int:
    """Re-point each waiting job named by a former path to its function's name now; returns how many."""
    adopted = 0
    for queue in queues:
        jobs = Job.fetch_many(sorted(waiting_job_ids(queue)), connection=queue.connection, serializer=queue.serializer)
        for job in jobs:
            if job is None or job.func_name not in FORMER_NAMES:
                continue
            job.func_name = FORMER_NAMES[job.func_name or ""]
            job.save(include_meta=False, include_result=False)
            adopted += 1
    if adopted:
        log.info("%d jobs queued by the former release now run under their new names", adopted)
    return adopted
