"""Callbacks that arrive together, counted together: group commit whose window is the load itself.

On a show night the providers' callbacks come a few milliseconds apart, and each count is one statement committed
on its own: a round trip, and a WAL flush that costs PostgreSQL more CPU than most of the statement. A process
counts on at most `LANES` connections at once (its lanes). A count that finds a lane free runs at once, alone: a
lone vote waits for nothing. Counts that arrive while every lane is busy wait, and the first lane to finish takes
them all (up to `MOST`) as one pipeline on the connection it already holds (asyncpg's `fetchmany`): one round trip,
one transaction, one flush for the lot. So the batches grow with the load, with no timer: at a vote a second each
count is alone; when the process is saturated, a batch is every count that came while the last one ran. The batch's
locks (the contest's ledger head, the candidates' tallies) are held only while PostgreSQL runs it, never across a
round trip to us.

A batch is all or nothing: when one of its statements fails, the batch is rolled back and each count is run again
alone, so that one bad count fails only itself. A process that dies with a batch in flight leaves it whole or
undone (one transaction), and answered nothing: the providers send those callbacks again, and every count is safe
to repeat (the pending guard; the event's id), so nothing is lost or counted twice.

Batches take the shared rows in one order (contest, then candidate), so two batches never wait on each other for
them. One wait remains that no order prevents: a batch holds a contest's ledger head from its earlier counts while
a later one waits for its order's row, which a count of that same order elsewhere (a provider's duplicate callback
to another process, a status check) may hold while it waits for the head. PostgreSQL ends that deadlock after
`deadlock_timeout` (a second): the loser fails and is run again (the batch: each count alone; a callback: the
provider sends it again), so nothing is lost or doubled, but that lane's counts wait that second.

One lane a process is the default: the contest's ledger head lets one count of a contest commit at a time in the
whole database anyway, so a second lane would mostly wait on the first one's locks, and the counts it takes from
the batches would commit on their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.db.driver_statements import DriverStatement
from gateway.db.engine import Sessions, autocommit_connection

log = logging.getLogger(__name__)

LANES = 1  # connections a process counts on at once
MOST = 64  # counts in one batch


@dataclass
class WaitingCount:
    params: Mapping[str, Any]
    lock_order: tuple[Any, ...]  # its order's contest and candidate: batches take shared rows in that order
    answer: asyncio.Future[asyncpg.Record] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def __post_init__(self) -> None:  # its caller may have given up waiting: its failure is not logged as lost
        self.answer.add_done_callback(lambda answer: answer.cancelled() or answer.exception())


class CountBatches:
    """A process's counting statements: each at once on a free lane, or in the next batch when none is free."""

    def __init__(self, sessions: Sessions, *, lanes: int = LANES, most: int = MOST) -> None:
        if lanes < 1:
            raise ValueError("counting needs at least one lane")
        self._sessions = sessions
        self._lanes = lanes
        self._most = most
        self._waiting: dict[DriverStatement, list[WaitingCount]] = {}
        self._open = 0  # lanes running
        self._starting = False  # a lane is on its way to its connection: it will take what waits
        self._running: set[asyncio.Task[None]] = set()
        self.batches = 0  # batches run, and the counts in them: how many votes a commit carried
        self.counts = 0

    async def fetchrow(self, statement: DriverStatement, params: Mapping[str, Any],
                       lock_order: tuple[Any, ...]) -> asyncpg.Record:
        """`statement` with `params`, at once or in the next batch; its row once committed. The statement must answer
        exactly one row each time (a batch's rows come in one list), and be safe to run again."""
        count = WaitingCount(params, lock_order)
        self._waiting.setdefault(statement, []).append(count)
        if self._open < self._lanes and not self._starting:
            self._open_lane()
        return await asyncio.shield(count.answer)  # a caller that gives up leaves its batch whole

    @property
    def waiting(self) -> int:
        """Statements taken in and waiting for a lane."""
        return sum(len(counts) for counts in self._waiting.values())

    def lane_free(self) -> bool:
        """Whether a count would run at once, with none waiting before it (then its caller may run it itself)."""
        return self._open < self._lanes and not self._waiting

    @asynccontextmanager
    async def leading(self) -> AsyncIterator[None]:
        """A lane taken by a caller that counts on the connection it already holds (a lone count, no second
        checkout); counts that arrive meanwhile wait for it, or for another lane, and go together."""
        self._open += 1
        try:
            yield
        finally:
            self._open -= 1
            if self._waiting and self._open < self._lanes and not self._starting:
                self._open_lane()

    def _open_lane(self) -> None:
        self._open += 1
        self._starting = True
        task = asyncio.create_task(self._lane())
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _lane(self) -> None:
        try:
            while self._waiting:
                await self._drain()
        except asyncio.CancelledError:  # cut off (the loop torn down without `close`): what waits fails with it
            self._fail_waiting(RuntimeError("the count's batch was cut off"))
            raise
        finally:
            self._open -= 1
            # A lane that found nothing left (another lane took it first) never reached its connection: without
            # this, no lane would open again. Clearing another's flag at worst opens a lane more, within `lanes`.
            self._starting = False

    async def _drain(self) -> None:
        """Batches, one after another, on one connection, while counts wait."""
        try:
            async with autocommit_connection(self._sessions) as connection:
                self._starting = False
                while (taken := self._take()) is not None:
                    if not await self._run(connection, *taken):
                        return  # its connection may be gone: the next batch takes another
        except Exception as error:  # no connection to count on: those waiting fail, and their providers send again
            self._starting = False
            log.warning("no connection to count on (%s)", error)
            self._fail_waiting(error)

    def _take(self) -> tuple[DriverStatement, list[WaitingCount]] | None:
        for statement, waiting in self._waiting.items():
            batch, rest = waiting[:self._most], waiting[self._most:]
            if rest:
                self._waiting[statement] = rest
            else:
                del self._waiting[statement]
            return statement, batch
        return None

    def _fail_waiting(self, error: BaseException) -> None:
        waiting, self._waiting = self._waiting, {}
        for counts in waiting.values():
            for count in counts:
                answer(count, error=error)

    async def _run(self, connection: AsyncConnection, statement: DriverStatement, batch: list[WaitingCount]) -> bool:
        """One batch in one transaction; False when it failed (each of its counts then ran alone)."""
        batch.sort(key=lambda count: count.lock_order)
        self.batches += 1
        self.counts += len(batch)
        try:
            try:
                if len(batch) == 1:
                    rows = [await statement.fetchrow(connection, batch[0].params)]
                else:
                    rows = await statement.fetchmany(connection, [count.params for count in batch])
                    if len(rows) != len(batch):  # committed, but whose row is whose is unknown: each runs again
                        raise RuntimeError(f"a batch of {len(batch)} statements answered {len(rows)} rows")
            except Exception as error:
                if len(batch) == 1:
                    answer(batch[0], error=error)
                    return False
                log.warning("a batch of %d counts failed (%s): each runs alone", len(batch), error)
                for count in batch:  # one after another, each on a pooled connection of its own
                    await self._run_alone(statement, count)
                return False
            for count, row in zip(batch, rows, strict=True):  # a batched statement answers one row each
                answer(count, row)
            return True
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
        """Let every lane finish what waits: a count taken in is never dropped at shutdown."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)


def answer(count: WaitingCount, row: asyncpg.Record | None = None, *, error: BaseException | None = None) -> None:
    if count.answer.done():
        return
    if error is not None:
        count.answer.set_exception(error)
    else:
        count.answer.set_result(row)
