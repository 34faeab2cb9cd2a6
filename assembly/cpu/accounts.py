"""CPU seconds by part of the service (assembly.cpu.parts), measured where the work runs, served on /metrics as
`gateway_cpu_seconds_total{part, process}` (`process`: `web` or `worker`).

In a web process, each step of a request's handler (`Accounted`, around the handler and the middlewares inside it)
and of a background task (`CpuAccounts.task_factory`): the loop thread's CPU time (`time.thread_time`) from the step's
start to its end, around each `send()` into the coroutine, so what runs between two steps (another request's steps,
the loop's callbacks) is not in it and concurrent requests are never mixed up. A task is the part of the code that
created it (its context's `SPENT`), or, created outside any part, the part of the module its coroutine is in.
In a worker, each job: the process's CPU time from the job's start to its end (a worker runs one job at a time).

Not in any part: aiohttp's work around the handlers (reading and parsing a request, routing it, sending its answer
once the handler has returned it), what the event loop runs outside tasks (asyncpg's parsing of PostgreSQL's answers,
the transports' callbacks), tasks created outside any part by a module no part owns, threads (asyncio.to_thread's),
and a worker's time between jobs (RQ's waits, its heartbeats)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Coroutine, Generator
from contextvars import ContextVar
from types import CodeType
from typing import Any, Generic, TypeVar, cast

from prometheus_client import CollectorRegistry, Counter

from assembly.cpu.parts import part_of_module

T = TypeVar("T")
CPU_SECONDS = "gateway_cpu_seconds"  # a counter: served as gateway_cpu_seconds_total
FLUSH_SECONDS = 1.0  # how often a web process adds its parts' seconds to the counter


class Spent:
    """One part's CPU seconds in this process: added to at each step (a float, no lock: the loop's thread alone adds),
    moved into the counter by `CpuAccounts.flush`."""

    __slots__ = ("part", "seconds", "counted")

    def __init__(self, part: str) -> None:
        self.part = part
        self.seconds = 0.0
        self.counted = 0.0


# The part the running code is accounted to; tasks it creates inherit it with their context.
SPENT: ContextVar[Spent | None] = ContextVar("cpu_part", default=None)
# CPU seconds of the accounted steps that have ended, in all: a step that ran another inside its own (an eager task's
# first step) leaves those seconds to it.
_charged = [0.0]


class Accounted(Generic[T]):
    """An awaitable's CPU time, step by step, added to a part."""

    __slots__ = ("_awaitable", "_spent")

    def __init__(self, awaitable: Awaitable[T], spent: Spent) -> None:
        self._awaitable = awaitable
        self._spent = spent

    def __await__(self) -> Generator[Any, Any, T]:
        steps, spent, clock, charged = self._awaitable.__await__(), self._spent, time.thread_time, _charged
        value: Any = None
        error: BaseException | None = None
        while True:
            base, started = charged[0], clock()
            try:
                yielded = steps.send(value) if error is None else steps.throw(error)
            except StopIteration as done:
                result: T = done.value
                return result
            finally:
                elapsed = clock() - started
                spent.seconds += elapsed - (charged[0] - base)
                charged[0] = base + elapsed
            try:
                value, error = (yield yielded), None
            except GeneratorExit:
                steps.close()
                raise
            except BaseException as exc:  # a cancellation, thrown in by the task: the awaitable's to handle
                value, error = None, exc


async def accounted(awaitable: Awaitable[T], spent: Spent) -> T:
    """`Accounted` as a coroutine, what a task runs."""
    return await Accounted(awaitable, spent)


class CpuAccounts:
    """A process's parts, and the counter they are served by."""

    def __init__(self, registry: CollectorRegistry, process: str) -> None:
        self.counter = Counter(CPU_SECONDS, "CPU seconds spent by each part of the service (assembly/cpu/accounts.py: "
                               "what is measured, what is not)", ["part", "process"], registry=registry)
        self.process = process
        self._parts: dict[str, Spent] = {}
        self._by_code: dict[CodeType, Spent | None] = {}

    def part(self, name: str) -> Spent:
        spent = self._parts.get(name)
        if spent is None:
            spent = self._parts[name] = Spent(name)
        return spent

    def add(self, name: str, seconds: float) -> None:
        """Seconds measured whole (a worker's job), counted at once."""
        self.counter.labels(name, self.process).inc(max(seconds, 0.0))

    def flush(self) -> None:
        for spent in list(self._parts.values()):
            seconds = spent.seconds
            if seconds > spent.counted:
                self.counter.labels(spent.part, self.process).inc(seconds - spent.counted)
                spent.counted = seconds

    def task_factory(self, loop: asyncio.AbstractEventLoop,
                     coro: Coroutine[Any, Any, Any] | Generator[Any, None, Any], **kwargs: Any) -> asyncio.Task[Any]:
        """The event loop's task factory (`loop.set_task_factory`): each task of a part is accounted to it."""
        context = kwargs.get("context")
        spent = context.get(SPENT) if context is not None else SPENT.get()
        if spent is None:
            spent = self._part_of_code(coro)
        if spent is not None and hasattr(coro, "__await__"):  # not a generator-based coroutine: none of ours
            coro = accounted(cast(Coroutine[Any, Any, Any], coro), spent)
        return asyncio.Task(coro, loop=loop, **kwargs)

    def _part_of_code(self, coro: object) -> Spent | None:
        code = getattr(coro, "cr_code", None)
        if code is None:
            return None
        if code not in self._by_code:
            frame = getattr(coro, "cr_frame", None)
            name = part_of_module(frame.f_globals.get("__name__", "")) if frame is not None else None
            self._by_code[code] = None if name is None else self.part(name)
        return self._by_code[code]


@contextlib.asynccontextmanager
async def flushing(accounts: CpuAccounts, every: float = FLUSH_SECONDS) -> AsyncIterator[None]:
    """The parts' seconds added to the counter every `every` seconds while inside, and once more at its end."""
    async def flush_forever() -> None:
        while True:
            await asyncio.sleep(every)
            accounts.flush()

    task = asyncio.create_task(flush_forever(), name="cpu-accounts")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        accounts.flush()
