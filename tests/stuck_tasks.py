"""What a test that ran out of time was waiting on. pytest-timeout shows the main thread's stack, which in an
asyncio test is the event loop's `select`: the tasks suspended at that moment, each at its own `await`, say which
fixture or app part never finished. They are written out as the time-out fires, before its exception unwinds them."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from collections.abc import AsyncGenerator
from types import FrameType
from typing import Any


def pending_task_stacks() -> str:
    """Every asyncio task not yet done and every async generator suspended in an `await` (a fixture's teardown),
    each with the chain of awaits it is suspended in. Found through the garbage collector: the handler runs inside
    the loop's `select`, where `asyncio.all_tasks()` has no running loop to ask."""
    lines: list[str] = []
    for found in gc.get_objects():
        if isinstance(found, asyncio.Task) and not found.done():
            lines.append(f"--- task {found.get_name()}")
            lines.extend(_awaits(found.get_coro()))
        elif isinstance(found, AsyncGenerator) and found.ag_await is not None:
            lines.append(f"--- async generator {found.__qualname__}")
            lines.extend(_awaits(found))
    return "\n".join(lines) or "nothing was waiting"


def _awaits(awaitable: object) -> list[str]:
    """Down the chain of what each coroutine or generator awaits, one line per frame."""
    lines = []
    while awaitable is not None:
        frame = next((getattr(awaitable, name) for name in ("cr_frame", "ag_frame", "gi_frame")
                      if getattr(awaitable, name, None) is not None), None)
        if frame is not None:
            lines.append(f"    {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        awaitable = next((getattr(awaitable, name) for name in ("cr_await", "ag_await", "gi_yieldfrom")
                          if getattr(awaitable, name, None) is not None), None)
    return lines


def tell_pending_tasks_first() -> None:
    """Wrap the SIGALRM handler pytest-timeout has just set: the pending tasks go to stderr, then its own."""
    timed_out = signal.getsignal(signal.SIGALRM)
    if not callable(timed_out):
        return

    def handler(signum: int, frame: FrameType | None) -> Any:
        print("asyncio tasks pending at the time-out:\n" + pending_task_stacks(), file=sys.stderr)
        return timed_out(signum, frame)

    signal.signal(signal.SIGALRM, handler)
