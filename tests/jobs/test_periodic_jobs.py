"""Every job the worker schedules names a pass, a channel's job or a provider's that exists: a misspelt one would
fail only when RQ ran it."""

from __future__ import annotations

from assembly.channel_list import channel
from assembly.passes import PASSES_BY_NAME
from assembly.provider_list import provider
from assembly.worker import PERIODIC_JOBS
from gateway.core.worker_passes import PASS_JOB
from gateway.kit.channel_parts import CHANNEL_JOB
from gateway.kit.provider_parts import PROVIDER_JOB


def test_every_periodic_job_names_something_the_worker_runs() -> None:
    passes = [job.args[0] for job in PERIODIC_JOBS if job.function == PASS_JOB]
    assert {"reconcile", "relay-outbox", "payouts", "money-check", "media-sweep"} <= set(passes)
    for job in PERIODIC_JOBS:
        if job.function == PASS_JOB:
            assert PASSES_BY_NAME[job.args[0]].every == job.interval
        elif job.function == CHANNEL_JOB:
            assert job.args[1] in channel(job.args[0]).jobs
        else:
            assert job.function == PROVIDER_JOB and job.args[1] in provider(job.args[0]).jobs
