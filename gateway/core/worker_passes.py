"""The worker's passes, named once for good: each wing declares its own (a `PASSES` tuple in its folder, as a channel
declares its jobs in `ChannelParts.jobs`), and every one is queued as the one RQ function `PASS_JOB` with its name as
the first argument. A queued job so names a pass, never the module it lives in: a pass can move to another folder
while jobs wait for it in Redis.

`assembly/passes.py` lists the wings' passes and runs them; this module imports no wing: wings import it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from gateway.core.providers import Providers
from gateway.db.engine import Sessions

if TYPE_CHECKING:
    from rq import Queue

# The one RQ function every pass runs through (assembly.passes.pass_job). Never rename it: jobs queued by every
# release since name it.
PASS_JOB = "assembly.passes.pass_job"


class PassResources(Protocol):
    """What a wing's pass may use (the worker's job context provides it)."""

    @property
    def sessions(self) -> Sessions: ...

    @property
    def providers(self) -> Providers: ...

    async def relay_now(self) -> None:
        """Deliver what committed transactions left in the outbox (board moves, receipts) now."""
        ...


@dataclass(frozen=True)
class WorkerPass:
    """One pass: its name (what queued jobs keep: never change it), what it runs, and how often the worker runs it
    by itself (None: only when something queues it)."""

    name: str
    run: Callable[..., Awaitable[Any]]  # (the job's resources, *the job's arguments) -> its result
    every: int | None = None  # seconds between runs


def enqueue_pass(queue: Queue, name: str, *args: object, **options: Any) -> Any:
    """Queue a run of the pass `name` (blocking: call it in a thread from a coroutine); `options` are RQ's
    (job_id, job_timeout, retry...)."""
    return queue.enqueue(PASS_JOB, args=(name, *args), **options)
