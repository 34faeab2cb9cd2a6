"""Updates kept in PostgreSQL before the webhook answers: deduplicated on `update_id`, marked handled
after the bot handled them (or failed, when aiogram cannot read them), and handed again
(`claim_unhandled`) when a handler died half-way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from channels.telegram.models import TelegramUpdate
from gateway.db.driver_statements import DriverStatement
from gateway.db.engine import Sessions, autocommit, autocommit_connection
from gateway.db.storable import storable

REPLAY_AFTER = timedelta(seconds=60)  # a handler still running this long after its claim has died
REPLAY_FOR = timedelta(hours=1)  # older unhandled updates are left for a person (their chat moved on)


# Two statements at each update a vote's seven make, run by the driver (gateway.db.driver_statements): through an
# ORM session each they were a tenth of a web process's CPU under Telegram votes (bench/README.md, Telegram).
KEEP_UPDATE = DriverStatement(
    pg_insert(TelegramUpdate).values(update_id=bindparam("update_id"), payload=bindparam("payload"))
    .on_conflict_do_nothing(index_elements=[TelegramUpdate.update_id]).returning(TelegramUpdate.update_id),
    ("update_id", "payload"))
MARK_HANDLED = DriverStatement(
    update(TelegramUpdate).where(TelegramUpdate.update_id == bindparam("update_id")).values(handled_at=func.now())
    .returning(TelegramUpdate.update_id), ("update_id",))


async def keep_update(sessions: Sessions, update_id: int, payload: dict[str, Any]) -> bool:
    """Store an update; False when it was stored before (Telegram re-sent it, or someone replays it)."""
    async with autocommit_connection(sessions) as connection:
        stored = await KEEP_UPDATE.fetchrow(connection, {"update_id": update_id, "payload": payload})
    return stored is not None


async def mark_handled(sessions: Sessions, update_id: int) -> None:
    async with autocommit_connection(sessions) as connection:
        await MARK_HANDLED.fetchrow(connection, {"update_id": update_id})


async def mark_failed(sessions: Sessions, update_id: int, failure: str) -> None:
    """Done with for good: an update aiogram cannot read reads no better in 30 s; it stays for a person."""
    async with autocommit(sessions) as session:
        await session.execute(update(TelegramUpdate).where(TelegramUpdate.update_id == update_id)
                              .values(handled_at=func.now(), failure=storable(failure[:200])))


async def claim_unhandled(sessions: Sessions, limit: int = 50) -> list[tuple[int, dict[str, Any]]]:
    """Unhandled updates whose handler died, claimed (so two processes do not both replay one)."""
    stale = (select(TelegramUpdate.update_id)
             .where(TelegramUpdate.handled_at.is_(None),
                    TelegramUpdate.claimed_at < func.now() - REPLAY_AFTER,
                    TelegramUpdate.received_at > func.now() - REPLAY_FOR)
             .order_by(TelegramUpdate.update_id).limit(limit).with_for_update(skip_locked=True))
    async with autocommit(sessions) as session:
        rows = (await session.execute(
            update(TelegramUpdate).where(TelegramUpdate.update_id.in_(stale.scalar_subquery()))
            .values(claimed_at=func.now()).returning(TelegramUpdate.update_id, TelegramUpdate.payload))).all()
    return sorted((update_id, payload) for update_id, payload in rows)


# Telegram re-sends an update for at most 24 hours, so a week covers any duplicate; past it a kept update is
# only a copy of a chat (names, phone numbers a voter shared) that nobody needs.
KEEP_UPDATES_FOR = timedelta(days=7)
PRUNE_BATCH = 5000


async def prune_updates(sessions: Sessions, keep_for: timedelta = KEEP_UPDATES_FOR) -> int:
    """Delete updates received longer ago than `keep_for`, a batch at a time; how many went."""
    removed = 0
    while True:
        async with autocommit(sessions) as session:
            batch = (select(TelegramUpdate.update_id).where(TelegramUpdate.received_at < func.now() - keep_for)
                     .limit(PRUNE_BATCH).scalar_subquery())
            gone = len((await session.execute(delete(TelegramUpdate).where(TelegramUpdate.update_id.in_(batch))
                                              .returning(TelegramUpdate.update_id))).all())
        removed += gone
        if gone < PRUNE_BATCH:
            return removed
