"""The worker's passes, named once for good, in one shape wherever they live: a wing declares its own (a `PASSES`
tuple in its folder), a channel or a provider in its parts (`ChannelParts.passes`, `ProviderParts.passes`, each
name starting with the plug's), and every one is queued as the one RQ function `PASS_JOB` with its name as the first
argument. A queued job so names a pass, never the module it lives in: a pass can move to another folder while jobs
wait for it in Redis. A pass with an interval (`every`) is run by the worker by itself, and each of its completed
runs is recorded (gateway.jobs.last_passes): /metrics shows its age, and one alert watches them all.

`assembly/worker/passes.py` lists the passes and runs them; this module imports no wing: wings import it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from gateway.core.providers import PaymentProvider, Providers
from gateway.db.engine import Sessions

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from rq import Queue

# The one RQ function every pass runs through (assembly.worker.passes.pass_job). Jobs queued by every release since
# name it: a move of it keeps its function's name, by which the worker runs a job queued under a former path
# (assembly.worker.passes.former_function).
PASS_JOB = "assembly.worker.passes.pass_job"


class PassResources(Protocol):
    """What a wing's pass may use (the worker's job context provides it)."""

    @property
    def sessions(self) -> Sessions: ...

    @property
    def providers(self) -> Providers: ...

    async def relay_now(self) -> None:
        """Deliver what committed transactions left in the outbox (board moves, receipts) now."""
        ...

    def pace(self, role: str) -> Pace:
        """Waits for a provider's status call on the turns its pending orders' checks leave (`role` names the
        caller's share: the money check's, the verification's), across every worker and host."""
        ...

    @property
    def notes(self) -> PassNotes:
        """Where a pass keeps what the next one needs (where a long reading stopped, what is done already)."""
        ...

    def results_key(self) -> Ed25519PrivateKey:
        """The key that signs results sheets."""
        ...


Pace = Callable[[PaymentProvider], Awaitable[None]]


class PassNotes(Protocol):
    """A small store shared by every worker (Redis), each note kept a while: a pass's resume point, a day done."""

    async def read(self, key: str) -> str | None: ...

    async def keep(self, key: str, value: str, seconds: int) -> None: ...

    async def forget(self, key: str) -> None: ...


@dataclass(frozen=True)
class WorkerPass:
    """One pass: its name (what queued jobs keep: never change it), what it runs, and how often the worker runs it
    by itself (None: only when something queues it)."""

    name: str
    run: Callable[..., Awaitable[Any]]  # (the job's resources, *the job's arguments) -> its result
    every: int | None = None  # seconds between runs
    # Seconds without a completed run after which it is silent (the alert PeriodicPassSilent, the control room);
    # None: `silent_after_default`. Set it for a pass that may run longer than three of its intervals.
    silent_after_seconds: int | None = None

    @property
    def silent_after(self) -> int | None:
        """How old its last completed run may be (None for a pass only queued)."""
        if self.every is None:
            return None
        return self.silent_after_seconds or silent_after_default(self.every)


# A pass is silent after three of its intervals missed, never under this: room for a slow run and for the periodic
# enqueuer's back-off after a Redis stall.
SILENT_AFTER_AT_LEAST = 45


def silent_after_default(every: int) -> int:
    return max(SILENT_AFTER_AT_LEAST, 3 * every)


def enqueue_pass(queue: Queue, name: str, *args: object, **options: Any) -> Any:
    """Queue a run of the pass `name` (blocking: call it in a thread from a coroutine); `options` are RQ's
    (job_id, job_timeout, retry...)."""
    return queue.enqueue(PASS_JOB, args=(name, *args), **options)
