"""Items handed over together when they come together: a process hands its items (an inbound SMS's id to the job
queue) over one batch at a time, and begins one at most every `pace` seconds. An item that finds the lane free goes
at once, alone; those that come while a hand-over is under way, or within `pace` of its start, wait for it and go
together in the next, up to `most` a batch. So the first item after a quiet spell waits for nothing, and under a
show's load each hand-over (a job, with its queue's own bookkeeping in the worker: its dequeue, heartbeat,
registries and result) carries every item that came since the last one began."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
MOST = 50  # items in one hand-over


class HandOverLane(Generic[T]):
    """`hand_over` is called with each batch, one call at a time; `add` returns once its item's batch was handed
    over, and raises what that hand-over raised."""

    def __init__(self, hand_over: Callable[[list[T]], Awaitable[object]], *, most: int = MOST,
                 pace: float = 0.0) -> None:
        if most < 1:
            raise ValueError("a hand-over takes at least one item")
        self._hand_over = hand_over
        self._most = most
        self._pace = pace
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._running: asyncio.Task[None] | None = None
        self.batches = 0  # hand-overs made, and the items in them
        self.items = 0

    async def add(self, item: T) -> None:
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Its caller may have stopped waiting (a request cut short): its batch's failure is not logged as lost.
        handed.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._waiting.append((item, handed))
        if self._running is None:
            self._running = asyncio.create_task(self._run(), name="hand-over-lane")
        # Shielded: a caller cut short leaves its item in the batch, which the others share.
        await asyncio.shield(handed)

    async def close(self) -> None:
        """Wait for what was added to be handed over."""
        if self._running is not None:
            await asyncio.shield(self._running)

    async def _run(self) -> None:
        batch: list[tuple[T, asyncio.Future[None]]] = []
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                began = loop.time()
                batch, self._waiting = self._waiting[:self._most], self._waiting[self._most:]
                try:
                    await self._hand_over([item for item, _ in batch])
                except Exception as exc:
                    for _, handed in batch:
                        handed.set_exception(exc)
                else:
                    self.batches += 1
                    self.items += len(batch)
                    for _, handed in batch:
                        handed.set_result(None)
                batch = []
                await asyncio.sleep(max(0.0, began + self._pace - loop.time()))
        finally:
            self._running = None
            # Cancelled (the process stopping): none of its callers waits for ever.
            for _, handed in (*batch, *self._waiting):
                handed.cancel()
            self._waiting = []
