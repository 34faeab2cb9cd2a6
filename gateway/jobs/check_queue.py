"""Status checks the web process runs right after a callback, one at a time per order.

Fifty duplicate callbacks for one order make one status call (and one more if a callback came
in while it ran), so a burst never exceeds the provider's rate limit on our account. A check may
also be asked for later (`request_later`): one waiting an order and delay, taken only if still due then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)


class PaymentChecks:
    def __init__(self, check: Callable[[uuid.UUID], Awaitable[object]]) -> None:
        self._check = check
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._again: set[uuid.UUID] = set()
        self._later: dict[tuple[uuid.UUID, float], asyncio.Task[None]] = {}

    def request(self, order_id: uuid.UUID) -> None:
        if order_id in self._running:
            self._again.add(order_id)
            return
        self._running[order_id] = asyncio.create_task(self._run(order_id), name=f"check-{order_id}")

    def request_later(self, order_id: uuid.UUID, seconds: float, due: Callable[[], Awaitable[bool]]) -> None:
        """Ask for a check in `seconds`, if `due()` says it is still wanted then; one such wait an order and delay
        (a second asked for meanwhile is the same one; one of another delay, asked for another reason, is not)."""
        key = (order_id, seconds)
        if key not in self._later:
            self._later[key] = asyncio.create_task(self._after(key, due), name=f"check-later-{order_id}")

    async def _after(self, key: tuple[uuid.UUID, float], due: Callable[[], Awaitable[bool]]) -> None:
        order_id, seconds = key
        try:
            await asyncio.sleep(seconds)
            if await due():
                self.request(order_id)
        except Exception:  # the reconciler checks it anyway
            log.exception("a later status check for %s was not asked for", order_id)
        finally:
            self._later.pop(key, None)

    async def _run(self, order_id: uuid.UUID) -> None:
        try:
            while True:
                await self._check_once(order_id)
                if order_id not in self._again:
                    return
                self._again.discard(order_id)
        finally:
            self._running.pop(order_id, None)

    async def _check_once(self, order_id: uuid.UUID) -> None:
        """One check; tried again at once if its database connection turned out dead (PostgreSQL
        restarted under it: the pool has dropped its connections), else left to the reconciler."""
        for attempt in (1, 2):
            try:
                await self._check(order_id)
                return
            except DBAPIError as exc:
                if attempt == 1 and exc.connection_invalidated:
                    log.warning("status check for %s lost its database connection; trying again", order_id)
                    continue
                log.exception("status check for %s failed", order_id)
            except Exception:  # the reconciler will try again later
                log.exception("status check for %s failed", order_id)
            return

    @property
    def in_flight(self) -> int:
        return len(self._running)

    async def wait_idle(self) -> None:
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def close(self) -> None:
        tasks: list[asyncio.Task[Any]] = [*self._later.values(), *self._running.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
