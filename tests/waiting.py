"""Waiting in tests for something the app does in the background."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

# How long a test lets a command or a child process run before calling it hung. A loaded machine (every core
# busy) takes minutes over what a quiet one does in seconds, so only a hang reaches it; under pytest's 300 s a
# test, so the test still fails with what the process printed rather than being killed.
HANG_SECONDS = 240.0


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def until_true(check: Callable[[], Awaitable[bool]], failure: str, timeout: float = HANG_SECONDS) -> None:
    """Until `check` (a look at the database or the app) says yes, looking every 50 ms; `failure` after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, failure
        await asyncio.sleep(0.05)


def wait_for(condition: Callable[[], bool], what: str, *, every: float = 0.1, timeout: float = HANG_SECONDS) -> None:
    """`until_true` for a test with no event loop of its own (servers and processes it started): until `condition`
    holds, looking every `every` seconds; `what` named in the failure after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        time.sleep(every)
