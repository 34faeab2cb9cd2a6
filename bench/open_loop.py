"""The benchmarks' open loop: votes arrive at a rate whatever the answers' pace, as real voters do; below the
stack's capacity, latencies are the path's own, not time spent queueing. The votes are those of the schedule
(`on_schedule`): one due while this process was held up goes out late, and how late is told, since a load that came
in bursts is not the steady rate it names."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine

from assembly.operations.rehearsal.schedule import LATE_SENDING_SECONDS, on_schedule


async def open_loop(rate: float, seconds: float, cast: Callable[[], Coroutine[object, object, None]]) -> float:
    """`cast` a vote at `rate` a second for `seconds`, each in a task of its own; once all are answered, returns how
    late (seconds) the latest went out against its schedule."""
    pending: set[asyncio.Task[None]] = set()
    behind = 0.0
    async with contextlib.aclosing(on_schedule(rate, seconds)) as schedule:
        async for late in schedule:
            behind = max(behind, late)
            task = asyncio.create_task(cast())
            pending.add(task)
            task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    return behind


def lateness_said(behind: float) -> str:
    """The figure a benchmark prints of its open loop's lateness."""
    said = f"up to {behind:.2f} s"
    if behind >= LATE_SENDING_SECONDS:
        said += " (this process was held up: the rate offered came in bursts, not steady)"
    return said
