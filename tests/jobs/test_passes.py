"""The worker's passes go by name: a wing declares its own, one entry point runs them, and what former releases
queued under a function's path runs as the pass it became."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from assembly.job_runtime import channel_job, provider_job
from assembly.passes import PASSES, by_name, former_function, pass_job
from assembly.worker import periodic_jobs
from gateway.core.worker_passes import PASS_JOB, PassResources, WorkerPass

# Every path the releases before queued a worker function under (their worker's schedule, the outbox relay, the
# media jobs, the web's one-time codes), and the entry points they queued channels' jobs through.
FORMER_PATHS = {
    **{f"gateway.worker_jobs.{name}_job": name.replace("_", "-") for name in (
        "deliver_outbox", "relay_outbox", "reconcile", "verify_by_list", "ledger_checkpoint")},
    **{f"assembly.worker_jobs.{name}_job": name.replace("_", "-") for name in (
        "deliver_outbox", "relay_outbox", "reconcile", "verify_by_list", "refunds", "payouts", "money_check",
        "ledger_checkpoint", "shared_addresses")},
    **{f"assembly.media_jobs.{name}_job": name.replace("_", "-") for name in (
        "process_upload", "text_code", "media_sweep")},
}


def test_every_path_a_former_release_queued_runs_its_pass() -> None:
    for path, name in FORMER_PATHS.items():
        former = former_function(path)
        assert isinstance(former, functools.partial) and former.func is pass_job and former.args == (name,), path
    assert former_function("gateway.worker_jobs.channel_job") is channel_job
    assert former_function("gateway.worker_jobs.provider_job") is provider_job
    assert former_function("assembly.worker_jobs.no_such_job") is None
    assert former_function("tests.somewhere.anything") is None


async def count_pass(resources: PassResources) -> int:
    return 0


def test_two_passes_of_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="reconcile"):
        by_name((*PASSES, WorkerPass("reconcile", count_pass)))


def test_a_wings_new_pass_is_scheduled_and_runs_by_its_name_once_listed() -> None:
    """A newcomer's pass (a wing's `PASSES`, here a test's) is run by the worker every `every` seconds under its
    name, through the one entry point, and a former path of its name would run it too."""
    toy = WorkerPass("toy-count", count_pass, every=45)
    scheduled = [job for job in periodic_jobs((*PASSES, toy)) if job.args == ("toy-count",)]
    assert [(job.function, job.interval, job.slot_name) for job in scheduled] == [(PASS_JOB, 45, "toy-count")]
    assert former_function("assembly.toys.toy_count_job", by_name((*PASSES, toy))) is not None


def test_a_wing_with_passes_is_one_line_in_the_list() -> None:
    """Each wing's passes come into the list by one line; the passes themselves stay in the wing's folder."""
    source = (Path(__file__).parents[2] / "assembly" / "passes.py").read_text()
    for wing in ("worker_jobs", "media", "money_in", "money_out", "fraud"):
        assert source.count(f"    *{wing}.PASSES,\n") == 1, wing
