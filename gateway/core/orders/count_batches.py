"""Callbacks that arrive together, counted together: group commit.

On a show night the providers' callbacks come a few milliseconds apart, and each count is one statement committed
on its own: a round trip, and a WAL flush that costs PostgreSQL more CPU than most of the statement. A process's
counts that arrive within `WINDOW` of the first are sent as one pipeline on one connection (asyncpg's
`fetchmany`): one round trip, one transaction, one flush for the lot. A count waits at most the window for
others, then for its batch's statements; the batch's locks (the contest's ledger head, the candidates' tallies)
are held only while PostgreSQL runs it, never across a round trip to us.

A batch is all or nothing: when one of its statements fails, the batch is rolled back and each count is run again
alone, so that one bad count fails only itself. Every count is safe to repeat (the pending guard; the event's id),
so a batch whose commit was lost with its connection, run again, counts nothing twice.

Batches take the shared rows in one order (contest, then candidate), so two batches never wait on each other for
them. One wait remains that no order prevents: a batch holds a contest's ledger head from its earlier counts while
a later one waits for its order's row, which a count of that same order elsewhere (a provider's duplicate callback
to another process, a status check) may hold while it waits for the head. PostgreSQL ends that deadlock after
`deadlock_timeout` (a second): the loser fails and is run again (the batch: each count alone; a callback: the
provider sends it again), so nothing is lost or doubled, but the contest's counts wait that second. With the delay
a saturated machine adds to every batch (bench/README.md), it is why group commit is off by default.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from gateway.db.driver_statements import DriverStatement
from gateway.db.engine import Sessions, autocommit_connection

log = logging.getLogger(__name__)

WINDOW = 0.01  # seconds a count waits for others: well inside a count's 50 ms
MOST = 64  # counts in one batch; a full batch goes at once


@dataclass
class WaitingCount:
    params: Mapping[str, Any]
    lock_order: tuple[Any, ...]  # its order's contest and candidate: batches take shared rows in that order
    answer: asyncio.Future[asyncpg.Record] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def __post_init__(self) -> None:  # its caller may have given up waiting: its failure is not logged as lost
        self.answer.add_done_callback(lambda answer: answer.cancelled() or answer.exception())


class CountBatches:
    """A process's counting statements, gathered for `window` seconds and run as one transaction."""

    def __init__(self, sessions: Sessions, *, window: float = WINDOW, most: int = MOST) -> None:
        self._sessions = sessions
        self._window = window
        self._most = most
        self._waiting: dict[DriverStatement, list[WaitingCount]] = {}
        self._timers: dict[DriverStatement, asyncio.TimerHandle] = {}
        self._running: set[asyncio.Task[None]] = set()

    async def fetchrow(self, statement: DriverStatement, params: Mapping[str, Any],
                       lock_order: tuple[Any, ...]) -> asyncpg.Record:
        """`statement` (which answers one row) with `params`, in the next batch; its row once the batch committed."""
        count = WaitingCount(params, lock_order)
        waiting = self._waiting.setdefault(statement, [])
        waiting.append(count)
        if len(waiting) >= self._most:
            self._send(statement)
        elif len(waiting) == 1:
            self._timers[statement] = asyncio.get_running_loop().call_later(self._window, self._send, statement)
        return await asyncio.shield(count.answer)  # a caller that gives up leaves its batch whole

    def _send(self, statement: DriverStatement) -> None:
        if (timer := self._timers.pop(statement, None)) is not None:
            timer.cancel()
        batch = self._waiting.pop(statement, [])
        if batch:
            task = asyncio.create_task(self._run(statement, batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, statement: DriverStatement, batch: list[WaitingCount]) -> None:
        batch.sort(key=lambda count: count.lock_order)
        try:
            try:
                async with autocommit_connection(self._sessions) as connection:
                    rows = await statement.fetchmany(connection, [count.params for count in batch])
            except Exception as error:
                if len(batch) == 1:
                    answer(batch[0], error=error)
                    return
                log.warning("a batch of %d counts failed (%s): each runs alone", len(batch), error)
                for count in batch:  # one after another: a pooled connection, not one each out of the web's pool
                    await self._run_alone(statement, count)
                return
            for count, row in zip(batch, rows, strict=True):  # the statement answers one row each
                answer(count, row)
        finally:  # cut off (the loop torn down without `close`): its callbacks fail, and the providers send them again
            for count in batch:
                answer(count, error=RuntimeError("the count's batch was cut off"))

    async def _run_alone(self, statement: DriverStatement, count: WaitingCount) -> None:
        try:
            async with autocommit_connection(self._sessions) as connection:
                answer(count, await statement.fetchrow(connection, count.params))
        except Exception as error:
            answer(count, error=error)

    async def close(self) -> None:
        """Send what waits and let every batch finish: a count taken in is never dropped at shutdown."""
        for statement in list(self._waiting):
            self._send(statement)
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)


def answer(count: WaitingCount, row: asyncpg.Record | None = None, *, error: BaseException | None = None) -> None:
    if count.answer.done():
        return
    if error is not None:
        count.answer.set_exception(error)
    else:
        count.answer.set_result(row)
