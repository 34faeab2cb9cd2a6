"""Kept Telegram updates go once Telegram could no longer send them again: the chat copies do not pile up."""

from __future__ import annotations

from sqlalchemy import select, text

from channels.telegram.models import TelegramUpdate
from channels.telegram.updates import keep_update, prune_updates
from gateway.db.engine import Sessions


async def test_updates_older_than_a_week_are_pruned_and_recent_ones_kept(sessions: Sessions) -> None:
    for update_id in (1, 2, 3):
        assert await keep_update(sessions, update_id, {"update_id": update_id, "message": {"text": "/start"}})
    async with sessions.begin() as session:
        await session.execute(text("UPDATE telegram_updates SET received_at = now() - interval '8 days' "
                                   "WHERE update_id IN (1, 2)"))
    assert await prune_updates(sessions) == 2
    async with sessions() as session:
        assert (await session.scalars(select(TelegramUpdate.update_id))).all() == [3]
    assert await prune_updates(sessions) == 0
    assert not await keep_update(sessions, 3, {"update_id": 3})  # the one kept still stops a duplicate
