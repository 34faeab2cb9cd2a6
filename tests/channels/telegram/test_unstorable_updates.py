"""Updates the webhook cannot keep as they are, or aiogram cannot read: never a 5xx (Telegram re-sends those,
holding the chat's next updates back), never a retry of what will fail again."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from channels.telegram.fake_api import FakeBotApi
from channels.telegram.models import TelegramUpdate
from channels.telegram.webhook import SECRET_HEADER, TELEGRAM_BOT
from gateway.db.engine import Sessions
from tests.factories import make_contest

USER = 5550003


async def kept(sessions: Sessions, update_id: int) -> TelegramUpdate | None:
    async with sessions() as session:
        return await session.get(TelegramUpdate, update_id)


async def test_a_nul_or_broken_character_is_kept_replaced_and_an_impossible_update_id_refused(
        telegram: FakeBotApi, sessions: Sessions) -> None:
    await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    for text in ("/start\x00", "/start \ud800"):
        sent = telegram.message_update(USER, "en", text=text, entities=[
            {"type": "bot_command", "offset": 0, "length": 6}])
        assert await telegram.deliver(sent) == 200
        row = await kept(sessions, sent["update_id"])
        assert row is not None and row.handled_at is not None and row.failure is None
        text_kept = row.payload["message"]["text"]
        assert text_kept.startswith("/start") and "\ufffd" in text_kept and text_kept.isprintable()
    assert telegram.texts(USER) == ["Send /start to vote, /top for the board, /myvotes for your votes.",
                                    "Welcome! Choose a contest to vote in:"]  # each handled, once
    for update_id in (2**63, 2**64 + 1, -1):
        assert await telegram.deliver({"update_id": update_id, "message": {"text": "hi"}}) == 400
    assert await telegram.deliver({"update_id": 1, "x": float("nan")}) == 400
    async with sessions() as session:
        assert len((await session.scalars(select(TelegramUpdate))).all()) == 2


async def test_an_update_aiogram_cannot_read_is_kept_failed_once_and_never_retried(
        telegram: FakeBotApi, bot_client: TestClient, sessions: Sessions, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="channels.telegram")
    unreadable = [telegram.update(message="hello"),
                  telegram.update(message={"message_id": 1, "date": 1_700_000_000, "text": "VOTE 07"})]  # no chat
    for sent in unreadable:
        assert await telegram.deliver(sent) == 200
    ids = [sent["update_id"] for sent in unreadable]
    async with sessions.begin() as session:  # as if a minute had passed: the replay pass would take them
        await session.execute(update(TelegramUpdate).values(
            claimed_at=datetime.now(UTC) - timedelta(minutes=5)))
    assert await bot_client.app[TELEGRAM_BOT].replay() == 0
    for update_id in ids:
        row = await kept(sessions, update_id)
        assert row is not None and row.handled_at is not None and "message" in (row.failure or "")
    about = [record for record in caplog.records if any(str(update_id) in record.getMessage() for update_id in ids)]
    assert len(about) == 2 and all(record.exc_info is None for record in about), [r.getMessage() for r in about]


async def test_a_number_too_large_for_a_float_is_refused_not_a_5xx(telegram: FakeBotApi, sessions: Sessions) -> None:
    # `1e400` is valid JSON that Python reads as infinity: neither an update_id nor anything jsonb keeps.
    assert telegram.webhook_url and telegram.secret
    async with aiohttp.ClientSession() as http:
        for body in ('{"update_id": 1e400}', '{"update_id": 7, "message": {"date": 1e400}}'):
            async with http.post(telegram.webhook_url, data=body, headers={
                    SECRET_HEADER: telegram.secret, "Content-Type": "application/json"}) as response:
                assert response.status == 400, (body, await response.text())
    async with sessions() as session:
        assert (await session.scalars(select(TelegramUpdate))).all() == []
