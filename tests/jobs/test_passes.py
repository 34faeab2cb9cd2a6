"""The worker's passes go by name: a wing, a channel or a provider declares its own in one shape, one entry point
runs them and records each periodic pass's completed run, and what former releases queued under a function's path
(or as a channel's or a provider's job) runs as the pass it became."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis

from assembly.channel_list import CHANNELS
from assembly.provider_list import PROVIDERS
from assembly.settings import Settings
from assembly.worker.passes import (
    PASSES,
    PASSES_BY_NAME,
    PassJob,
    by_name,
    channel_job,
    former_function,
    pass_job,
    plug_pass_name,
    provider_job,
    run_pass,
)
from assembly.worker.rq_worker import periodic_jobs
from gateway.core.worker_passes import PASS_JOB, PassResources, WorkerPass
from gateway.jobs.last_passes import pass_ages
from gateway.jobs.queues import job_queue, sync_redis
from gateway.kit.channel_parts import ChannelParts

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
# The channels' and providers' jobs the releases before queued as (plug, job) through `channel_job` and
# `provider_job` (under `gateway.worker_jobs`, then `assembly.job_runtime`), and the pass each is now.
FORMER_PLUG_JOBS = {("sms", "inbound"): "sms-inbound", ("sms", "backstop"): "sms-backstop",
                    ("telegram", "prune"): "telegram-prune", ("mpesa", "register_paybills"): "mpesa-register-paybills",
                    ("mpesa", "read_paybill_statements"): "mpesa-read-paybill-statements",
                    ("stars", "missed_payments"): "stars-missed-payments"}


def test_every_path_a_former_release_queued_runs_its_pass() -> None:
    for path, name in FORMER_PATHS.items():
        former = former_function(path)
        assert isinstance(former, functools.partial) and former.func is pass_job and former.args == (name,), path
    for module in ("gateway.worker_jobs", "assembly.job_runtime"):
        assert former_function(f"{module}.channel_job") is channel_job
        assert former_function(f"{module}.provider_job") is provider_job
    # The entry point of passes before the assembly had rooms.
    assert former_function("assembly.passes.pass_job") is pass_job
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
    source = (Path(__file__).parents[2] / "assembly" / "worker" / "passes.py").read_text()
    for wing in ("worker_jobs", "media", "money_in", "money_out", "fraud", "results"):
        assert source.count(f"    *{wing}.PASSES,\n") == 1, wing


def test_a_channels_or_providers_former_job_runs_as_its_pass() -> None:
    """Every job a plug declared before (plug, job) names the pass it is now; and the channels' and providers'
    passes are in the one list, each named after its plug."""
    for (plug, job), name in FORMER_PLUG_JOBS.items():
        assert plug_pass_name(plug, job) == name and name in PASSES_BY_NAME, (plug, job)
    plugs = [(parts.name, each) for parts in (*CHANNELS, *PROVIDERS) for each in parts.passes]
    assert set(FORMER_PLUG_JOBS.values()) <= {each.name for _, each in plugs}
    for plug, each in plugs:
        assert each.name.startswith(f"{plug}-") and PASSES_BY_NAME[each.name] is each


def test_a_job_a_former_release_queued_for_a_plug_is_read_as_its_pass(settings: Settings) -> None:
    """What the worker's job class makes of such a job in Redis (JSON: its arguments a list): the entry point that
    runs it as its pass."""
    queue = job_queue(sync_redis(settings.redis_url or ""))
    queued = [queue.enqueue("assembly.job_runtime.provider_job", "mpesa", "read_paybill_statements"),
              queue.enqueue("assembly.job_runtime.channel_job", "sms", "inbound", 7)]
    try:
        read = [PassJob.fetch(job.id, connection=queue.connection, serializer=queue.serializer) for job in queued]
        assert [(job.func, tuple(job.args)) for job in read] == [
            (provider_job, ("mpesa", "read_paybill_statements")), (channel_job, ("sms", "inbound", 7))]
    finally:
        for job in queued:
            job.delete()


def test_a_plugs_pass_must_carry_its_name() -> None:
    with pytest.raises(ValueError, match="sms-backstop"):
        ChannelParts("ussd", lambda app: None, passes=(WorkerPass("sms-backstop", count_pass, every=60),))


@dataclass
class Resources:
    """What `run_pass` reads of a job's context (`JobContext`): Redis, where the ages are kept (these passes read
    nothing)."""

    redis: Redis


async def failing_pass(resources: PassResources) -> int:
    raise RuntimeError("a pass that fails each run")


async def test_each_completed_run_of_a_periodic_pass_is_recorded_where_passes_run(redis: Redis) -> None:
    """No pass records its own age: the one place that runs them does, for a periodic pass that completed."""
    toy, failing = WorkerPass("toy-count", count_pass, every=45), WorkerPass("toy-failing", failing_pass, every=45)
    queued = WorkerPass("toy-queued", count_pass)
    context = Resources(redis)
    assert await run_pass(context, toy) == 0
    await run_pass(context, queued)
    with pytest.raises(RuntimeError):
        await run_pass(context, failing)
    ages = await pass_ages(redis, ("toy-count", "toy-failing", "toy-queued"))
    assert ages["toy-count"] is not None and ages["toy-count"] < 5
    assert ages["toy-failing"] is None and ages["toy-queued"] is None

