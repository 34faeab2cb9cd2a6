"""Waiting in tests for something the app does in the background."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

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
