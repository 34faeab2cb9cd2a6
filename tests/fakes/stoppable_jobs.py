"""Jobs a test queues for a real `gateway worker` to stop in the middle of: one waiting in the job runtime's event
loop (as a pass waits for its turn of a provider's status calls), one busy in the worker's main thread."""

from __future__ import annotations

import asyncio
import time

from assembly.worker.job_runtime import JobContext, run_in_context


def wait_in_the_job_runtime(seconds: float) -> None:
    async def wait(ctx: JobContext) -> None:
        await asyncio.sleep(seconds)

    run_in_context(wait)


def busy_for(seconds: float) -> None:
    time.sleep(seconds)
