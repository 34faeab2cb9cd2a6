"""Every worker pass by its name, and the one RQ function that runs them (`pass_job`, `PASS_JOB` in
gateway.core.worker_passes). A wing declares its passes in its own folder (a `PASSES` tuple), a channel or a provider
in its parts (`passes`); a wing with passes is one line in `PASSES` here, and a pass added to a wing already listed,
or to any channel or provider, touches nothing outside its folder. Each completed run of a periodic pass is recorded
here, where every pass runs (`pass_job`): its age is on /metrics, and PeriodicPassSilent watches it.

A queued job names a pass, not a module: passes move freely. Jobs a release before queued under a function's dotted
path (`assembly.worker_jobs.reconcile_job`, `gateway.worker_jobs.deliver_outbox_job`...) keep coming during an
upgrade (the old web processes relay the outbox until they are replaced; RQ requeues a killed old worker's job, a
retry waits under its first name), so the worker's job class reads such a path by the rule those releases named
their functions by: the pass's name with `_` for `-`, then `_job` (`former_function`); a channel's or a provider's
job, queued as `channel_job(channel, job, ...)` or `provider_job(provider, job)`, is its pass "<plug>-<job>". The
entry point of passes moved with the worker's room (`assembly.passes.pass_job` before): a job queued under its
former path runs through it by its function's name."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rq.job import Job

from assembly.channel_list import CHANNELS
from assembly.cpu.parts import OTHER, part_of_module
from assembly.provider_list import PROVIDERS
from assembly.worker import worker_jobs
from assembly.worker.job_runtime import JobContext, run_in_context
from gateway.core.fraud import passes as fraud
from gateway.core.money_in import passes as money_in
from gateway.core.money_out import passes as money_out
from gateway.core.results import passes as results
from gateway.core.worker_passes import WorkerPass
from gateway.jobs.last_passes import note_pass
from media import passes as media

PASSES: tuple[WorkerPass, ...] = (
    *worker_jobs.PASSES,
    *media.PASSES,
    *money_in.PASSES,
    *money_out.PASSES,
    *fraud.PASSES,
    *results.PASSES,
    *(each for parts in CHANNELS for each in parts.passes),
    *(each for parts in PROVIDERS for each in parts.passes),
)


def by_name(passes: Iterable[WorkerPass]) -> Mapping[str, WorkerPass]:
    """The passes by name; two of one name would run one another's jobs."""
    named: dict[str, WorkerPass] = {}
    for each in passes:
        if each.name in named:
            raise ValueError(f"two worker passes are named {each.name!r}")
        named[each.name] = each
    return named


PASSES_BY_NAME = by_name(PASSES)
# The passes the worker runs by itself, by name: how old each one's last completed run may be (its alert's threshold).
SILENT_AFTER: Mapping[str, int] = {each.name: each.silent_after for each in PASSES if each.silent_after is not None}


# The part of the service each pass's CPU is accounted to (assembly.cpu.parts), where its module does not say it: the
# roof's own passes, and the verification of callback-counted orders by their provider's list.
PARTS_OF_PASSES: Mapping[str, str] = {"deliver-outbox": "relay", "deliver-outbox-batch": "relay",
                                      "relay-outbox": "relay",
                                      "requeue-lost-deliveries": "relay", "reconcile": "reconciler",
                                      "verify-by-list": "verification"}


def part_of_job(job: Job) -> str:
    """The part a job's CPU is accounted to: its pass's (`other` for a job that names none)."""
    try:
        name = job.args[0] if (job.func_name or "").rsplit(".", 1)[-1] == "pass_job" and job.args else None
    except Exception:  # arguments that cannot be read: the job failed on them too
        name = None
    work = PASSES_BY_NAME.get(name) if isinstance(name, str) else None
    if work is None:
        return OTHER
    return PARTS_OF_PASSES.get(work.name) or part_of_module(work.run.__module__) or OTHER


def pass_job(name: str, *args: Any) -> Any:
    """The RQ job of every pass: run it in this worker's runtime."""
    return run_in_context(lambda ctx: run_pass(ctx, PASSES_BY_NAME[name], *args))


async def run_pass(ctx: JobContext, work: WorkerPass, *args: Any) -> Any:
    """Run a pass; a periodic one's completed run is recorded (a run that raised is not: its age grows)."""
    result = await work.run(ctx, *args)
    if work.every is not None:
        await note_pass(ctx.redis, work.name)
    return result


def plug_pass_name(plug: str, job: str) -> str:
    """The pass a channel's or a provider's job, named by a former release, is now."""
    return f"{plug}-{job.replace('_', '-')}"


def channel_job(channel: str, job: str, *args: Any) -> Any:
    """A channel's job as a former release queued it (`assembly.job_runtime.channel_job`): its pass."""
    return pass_job(plug_pass_name(channel, job), *args)


def provider_job(provider: str, job: str) -> Any:
    """A provider's periodic job as a former release queued it (`assembly.job_runtime.provider_job`): its pass."""
    return pass_job(plug_pass_name(provider, job))


# The RQ entry points former releases queued (under `gateway.worker_jobs`, then `assembly.job_runtime` and
# `assembly.passes`), by their function's name.
KEPT_ENTRY_POINTS: Mapping[str, Callable[..., Any]] = {
    "pass_job": pass_job, "channel_job": channel_job, "provider_job": provider_job}


def former_function(path: str, passes: Mapping[str, WorkerPass] = PASSES_BY_NAME) -> Callable[..., Any] | None:
    """What a job queued under a former release's function path runs now; None for a path no release used."""
    function = path.rsplit(".", 1)[-1]
    if function in KEPT_ENTRY_POINTS:
        return KEPT_ENTRY_POINTS[function]
    name = function.removesuffix("_job").replace("_", "-")
    if not function.endswith("_job") or name not in passes:
        return None
    return functools.partial(pass_job, name)


class PassJob(Job):
    """RQ's job, running a former release's function path as the pass it became (the worker's job class)."""

    @property
    def func(self) -> Any:
        try:
            return super().func
        except (ValueError, ImportError, AttributeError):
            former = former_function(self.func_name or "")
            if former is None:
                raise
            return former
