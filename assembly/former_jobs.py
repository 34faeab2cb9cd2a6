"""Jobs that a release before this one queued under its own names for the worker's functions (they lived in
`gateway.worker_jobs` until the assembly moved out of the foundation). During an upgrade such jobs keep coming
after the new worker has started: the old web processes relay the outbox until they are replaced, and RQ puts a
killed old worker's job back on the queue under the name it had. So the worker maps the former names when a job
runs, not once in Redis: a delivery (a receipt), an inbound SMS or a retry naming a former path would otherwise
fail to import on every try, and its message would never go."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rq.job import Job
from rq.utils import import_attribute

from gateway.kit.channel_parts import CHANNEL_JOB

FORMER = "gateway.worker_jobs."
WORKER_JOBS = ("deliver_outbox_job", "relay_outbox_job", "reconcile_job", "verify_by_list_job", "ledger_checkpoint_job")
FORMER_NAMES: Mapping[str, str] = {f"{FORMER}{name}": f"assembly.worker_jobs.{name}" for name in WORKER_JOBS} | {
    f"{FORMER}channel_job": CHANNEL_JOB}


class RenamedJob(Job):
    """RQ's job, run under its function's present name when a former release queued it under another."""

    @property
    def func(self) -> Any:
        name = self.func_name
        if name is None or name not in FORMER_NAMES:
            return super().func
        return import_attribute(FORMER_NAMES[name])
