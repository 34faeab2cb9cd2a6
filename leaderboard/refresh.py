"""What the board does with the outbox's vote news: one refresh of the contest's board per batch, however many votes
it carries (the web process's relay and the worker's deliveries both run it)."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from gateway.db.engine import Sessions
from gateway.jobs import outbox
from leaderboard.cache import refresh_contest

BOARD_TOPICS = ("vote.confirmed", "vote.uncounted", "vote.free")  # vote.free: gateway.core.orders.free_votes


def board_refresh(sessions: Sessions, redis: Redis) -> dict[str, outbox.BatchHandler]:
    """The board changes: one refresh per contest however many votes a batch carries."""

    async def refresh(payloads: list[dict[str, Any]]) -> None:
        for contest_id in sorted({int(p["contest_id"]) for p in payloads}):
            await refresh_contest(sessions, redis, contest_id)

    return dict.fromkeys(BOARD_TOPICS, refresh)
