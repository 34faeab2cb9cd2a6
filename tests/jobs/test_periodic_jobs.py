"""Every job the worker schedules names a pass that exists, at that pass's interval: a misspelt one would fail only
when RQ ran it. The channels' and providers' passes are scheduled as the wings' are."""

from __future__ import annotations

from assembly.worker.passes import PASSES_BY_NAME
from assembly.worker.rq_worker import PERIODIC_JOBS
from gateway.core.worker_passes import PASS_JOB


def test_every_periodic_job_names_a_pass_the_worker_runs() -> None:
    passes = [job.args[0] for job in PERIODIC_JOBS]
    assert {"reconcile", "relay-outbox", "payouts", "money-check", "media-sweep", "ledger-checkpoint",
            "sms-backstop", "telegram-prune", "mpesa-read-paybill-statements", "stars-missed-payments"} <= set(passes)
    assert len(passes) == len(set(passes))
    for job in PERIODIC_JOBS:
        assert job.function == PASS_JOB and job.slot_name == job.args[0]
        assert PASSES_BY_NAME[job.args[0]].every == job.interval
