"""The outbox relay: rows written inside a confirming transaction become RQ jobs after commit.

The rows a relay pass hands over become a few jobs, each delivering up to `BATCH_MOST` of them
(`outbox-batch-{first}-{last}-{digest}`), each row in a transaction of its own: a job per row cost a worker as
much in RQ's own bookkeeping (its dequeue, heartbeat, registries and result) as the receipt it sent,
and the web process a thread's hand-over and a few Redis round trips a row. A row that fails in a
batch becomes the job `outbox-{id}`, with its own retries. A relay that runs twice (or crashes
between enqueueing and marking) finds the job already there and does not enqueue it again, and a
job does nothing for a row already delivered.

A job handed to RQ lives in Redis only, and Redis can lose it: a Sentinel failover promotes a replica that never
received the last writes (its replication is asynchronous), or a Redis without persistence restarts. So the rows
handed over long ago and still not delivered are handed over again (`relay_lost`) when their job is gone from
Redis; a job still there (waiting, running, waiting for its retry, or failed for good) is left alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from rq import Queue, Retry
from rq.job import Job
from sqlalchemy import BigInteger, DateTime, Integer, Select, String, all_, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from gateway.core.worker_passes import enqueue_pass
from gateway.db.driver_statements import DriverStatement, driver_transaction
from gateway.db.engine import Sessions, autocommit_connection
from gateway.db.models import OutboxMessage
from gateway.jobs.queues import batch_job_id

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]
BatchHandler = Callable[[list[dict[str, Any]]], Awaitable[None]]
# Told, after a local handler ran, its topic and when each of its rows was written (the latency to the board).
Handled = Callable[[str, list[datetime]], None]

DELIVER_PASS = "deliver-outbox"  # the worker's pass that delivers one row (assembly.worker.worker_jobs)
DELIVER_BATCH_PASS = "deliver-outbox-batch"  # the worker's pass that delivers a relay pass's rows
BATCH_MOST = 50  # rows one batch job delivers: a pass's rows spread over the workers in jobs of at most this
# How long a batch goes on before handing its rows left to jobs of their own: a provider that times out on every
# receipt (AT retries each for ~40 s) must not hold fifty receipts behind one worker past RQ's job time-out.
BATCH_SECONDS = 60.0
BATCH_RESULT_TTL = 3600  # long enough for a relay that ran twice to find the batch's job and not make it again
DELIVERY_RETRY = Retry(max=6, interval=[1, 5, 15, 60, 300, 900])
# A row handed to RQ this long ago and not delivered has its job looked for in Redis: a job normally runs within
# seconds (its first retry comes after 1 s); one that is gone was lost with Redis.
LOST_AFTER = timedelta(minutes=2)


def delivery_job_id(outbox_id: int) -> str:
    return f"outbox-{outbox_id}"


def enqueue_deliveries(queue: Queue, outbox_ids: list[int]) -> int:
    """Enqueue a delivery job per row unless that job already exists; returns how many were new."""
    new = 0
    for outbox_id in outbox_ids:
        job_id = delivery_job_id(outbox_id)
        if Job.exists(job_id, connection=queue.connection):
            continue
        enqueue_pass(queue, DELIVER_PASS, outbox_id, job_id=job_id, result_ttl=7 * 86400, failure_ttl=30 * 86400,
                     retry=DELIVERY_RETRY)
        new += 1
    return new


def delivery_batch_job_id(outbox_ids: list[int]) -> str:
    """The batch's job id, told by all of its rows: a relay that crashed before marking its rows may find the same
    first and last row again with another between them, which a job named by its ends alone would have left waiting
    minutes for `relay_lost`."""
    return batch_job_id("outbox-batch", outbox_ids)


def enqueue_delivery_batches(queue: Queue, outbox_ids: list[int], most: int = BATCH_MOST) -> int:
    """Enqueue a batch job per `most` rows (in the relay's order) unless that job already exists; returns how many
    rows were in new jobs. A row still waiting in its batch when `relay_lost` looks (a backlog of minutes) is
    handed over again alone: the two jobs deliver it once (`deliver` locks the row and skips a delivered one)."""
    new = 0
    for start in range(0, len(outbox_ids), most):
        chunk = outbox_ids[start:start + most]
        job_id = delivery_batch_job_id(chunk)
        if Job.exists(job_id, connection=queue.connection):
            continue
        enqueue_pass(queue, DELIVER_BATCH_PASS, chunk, job_id=job_id, result_ttl=BATCH_RESULT_TTL,
                     failure_ttl=30 * 86400, retry=DELIVERY_RETRY)
        new += len(chunk)
    return new


async def relay_outbox(sessions: Sessions, enqueue: Callable[[list[int]], Awaitable[int]],
                       local: Mapping[str, BatchHandler] | None = None, limit: int = 500,
                       handled: Handled | None = None) -> int:
    """Move committed, not yet handled outbox rows on, those of `local`'s topics first; returns how many rows.

    Topics in `local` are fast and idempotent (the board refresh): the relay runs them itself (`relay_local`).
    Every other row becomes an RQ job (`relay_queued`). A relay that runs in a loop of its own runs the two apart
    (gateway.jobs.relay), so that a board refresh never waits for jobs being handed to Redis.
    """
    handlers = local or {}
    return (await relay_local(sessions, handlers, limit=limit, handled=handled)
            + await relay_queued(sessions, enqueue, skip=handlers.keys(), limit=limit))


async def relay_local(sessions: Sessions, local: Mapping[str, BatchHandler], *, limit: int = 500,
                      handled: Handled | None = None) -> int:
    """Run the handlers of the rows of `local`'s topics, once per topic for the whole batch, and mark them
    delivered in the same transaction; returns how many rows. A handler that fails leaves them for the next pass
    (at least once: `local`'s handlers are idempotent)."""
    if not local:
        return 0
    async with autocommit_connection(sessions) as connection, driver_transaction(connection):
        rows = await LOCAL_ROWS.fetch(connection, {"relay_topics": list(local), "relay_limit": limit})
        if not rows:
            return 0
        for topic in sorted({row["topic"] for row in rows}):
            await local[topic]([row["payload"] for row in rows if row["topic"] == topic])
            if handled is not None:
                handled(topic, [row["created_at"] for row in rows if row["topic"] == topic])
        await MARK_DELIVERED.fetch(connection, {"relay_ids": [row["id"] for row in rows],
                                                "relay_now": datetime.now(UTC)})
    return len(rows)


async def relay_queued(sessions: Sessions, enqueue: Callable[[list[int]], Awaitable[int]], *,
                       skip: Collection[str] = (), limit: int = 500) -> int:
    """Hand every row whose topic is not in `skip` to RQ (`enqueue`: `enqueue_deliveries`), marked enqueued in the
    same transaction; returns how many rows."""
    async with autocommit_connection(sessions) as connection, driver_transaction(connection):
        ids = [row["id"] for row in await QUEUED_ROWS.fetch(connection, {"relay_skip": list(skip),
                                                                         "relay_limit": limit})]
        if not ids:
            return 0
        await enqueue(ids)
        await MARK_ENQUEUED.fetch(connection, {"relay_ids": ids, "relay_now": datetime.now(UTC)})
    return len(ids)


# A relay's passes run by the driver (gateway/db/driver_statements.py): a web process's board lane makes one every
# 0.1 s while votes come in, and each lane two a second with none; through the ORM a pass cost more than its
# statements (~1.2 ms of CPU with no row, 2-2.4 ms with ten, against 0.45-0.75 so: bench/RESULTS.md).
OUTBOX = OutboxMessage.__table__.c
RELAY_IDS = bindparam("relay_ids", type_=ARRAY(BigInteger))
RELAY_NOW = bindparam("relay_now", type_=DateTime(timezone=True))


def _unhandled() -> Select[int, str]:
    """The oldest rows not yet handed on, locked; those another relay has locked are left to it."""
    return (select(OUTBOX.id, OUTBOX.topic).where(OUTBOX.enqueued_at.is_(None))
            .order_by(OUTBOX.id).limit(bindparam("relay_limit", type_=Integer)).with_for_update(skip_locked=True))


LOCAL_ROWS = DriverStatement(
    _unhandled().add_columns(OUTBOX.payload, OUTBOX.created_at)
    .where(OUTBOX.topic == any_(bindparam("relay_topics", type_=ARRAY(String)))), ("relay_topics", "relay_limit"))
QUEUED_ROWS = DriverStatement(
    _unhandled().where(OUTBOX.topic != all_(bindparam("relay_skip", type_=ARRAY(String)))),
    ("relay_skip", "relay_limit"))
MARK_DELIVERED = DriverStatement(
    update(OutboxMessage.__table__).where(OUTBOX.id == any_(RELAY_IDS))
    .values(enqueued_at=RELAY_NOW, delivered_at=RELAY_NOW, attempts=OUTBOX.attempts + 1), ("relay_ids", "relay_now"))
MARK_ENQUEUED = DriverStatement(
    update(OutboxMessage.__table__).where(OUTBOX.id == any_(RELAY_IDS)).values(enqueued_at=RELAY_NOW),
    ("relay_ids", "relay_now"))


async def relay_lost(sessions: Sessions, enqueue: Callable[[list[int]], Awaitable[int]], *,
                     lost_after: timedelta = LOST_AFTER, now: datetime | None = None, limit: int = 500) -> int:
    """Hand over again the rows handed to RQ over `lost_after` ago and still not delivered; `enqueue`
    (`enqueue_deliveries`) skips each whose job Redis still holds. Returns how many jobs were made again."""
    now = now or datetime.now(UTC)
    async with sessions.begin() as session:
        ids = list(await session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.delivered_at.is_(None), OutboxMessage.enqueued_at < now - lost_after)
            .order_by(OutboxMessage.enqueued_at).limit(limit)))
        if not ids:
            return 0
        again = await enqueue(ids)
        # Looked at now: to the back of the line, so that rows whose job failed for good (kept by RQ for a month)
        # never fill every pass's `limit` and hide a lost one behind them.
        await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(enqueued_at=now))
    if again:
        log.warning("outbox: %d job(s) handed to Redis were no longer there (lost with Redis): queued again", again)
    return again


# A row's delivery, once per vote and more (its receipt, the board's news): run by the driver, as a vote's hot
# statements are (gateway/db/driver_statements.py), in one transaction the driver begins and ends.
TAKE_ROW = DriverStatement(select(OutboxMessage.topic, OutboxMessage.payload, OutboxMessage.delivered_at)
                           .where(OutboxMessage.id == bindparam("outbox_id")).with_for_update(), ("outbox_id",))
NOTE_DELIVERED = DriverStatement(update(OutboxMessage).where(OutboxMessage.id == bindparam("outbox_id"))
                                 .values(attempts=OutboxMessage.attempts + 1, delivered_at=bindparam("delivered_at")),
                                 ("outbox_id", "delivered_at"))


async def deliver(sessions: Sessions, outbox_id: int, handlers: Mapping[str, Handler]) -> bool:
    """Run the handler of one outbox row once; returns False if it was already delivered. The row stays locked
    while its handler runs: another delivery of it waits, then finds it delivered (or, the handler having failed,
    runs it again)."""
    async with autocommit_connection(sessions) as connection, driver_transaction(connection):
        message = await TAKE_ROW.fetchrow(connection, {"outbox_id": outbox_id})
        if message is None or message["delivered_at"] is not None:
            return False
        handler = handlers.get(message["topic"])
        if handler is None:
            log.info("outbox topic %s has no handler; marking delivered", message["topic"])
        else:
            await handler(message["payload"])
        await NOTE_DELIVERED.fetchrow(connection, {"outbox_id": outbox_id, "delivered_at": datetime.now(UTC)})
    return True


async def deliver_batch(sessions: Sessions, outbox_ids: list[int], handlers: Mapping[str, Handler],
                        alone: Callable[[list[int]], Awaitable[int]], seconds: float = BATCH_SECONDS) -> int:
    """Deliver a batch's rows one after the other, each in a transaction of its own; a row whose handler fails, and
    every row left once `seconds` have passed, go to `alone` (`enqueue_deliveries`: a job each, with its retries)
    so that one failing receipt neither holds the others nor makes them run again. Returns how many were delivered
    now."""
    ends = time.monotonic() + seconds
    delivered, handed_on = 0, []
    for n, outbox_id in enumerate(outbox_ids):
        if time.monotonic() > ends:
            handed_on += outbox_ids[n:]
            break
        try:
            delivered += await deliver(sessions, outbox_id, handlers)
        except Exception:
            log.exception("outbox row %s failed in its batch; it is retried in a job of its own", outbox_id)
            handed_on.append(outbox_id)
    if handed_on:
        await alone(handed_on)
    return delivered
