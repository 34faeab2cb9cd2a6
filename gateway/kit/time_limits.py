"""Waiting for an answer at most so long, in a way that never swallows the task's own cancellation.

`asyncio.wait_for` on Python 3.11 returns the answer when the task is cancelled in the same turn of the loop as the
answer arrives (cpython#86296, mended in 3.12): the cancellation is lost. A background loop (the fan-out's lease,
its resync) stopped at that moment went on running, so the web process's shutdown waited for it for ever and its
lease was never handed back. `asyncio.timeout` delivers such a cancellation at the task's next step."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def answer_within(seconds: float, awaitable: Awaitable[T]) -> T:
    """`awaitable`'s result, or TimeoutError after `seconds`; a cancellation of the caller always goes through."""
    async with asyncio.timeout(seconds):
        return await awaitable
