"""A web process and aiogram: its types take ~2 s of CPU to build, which a web process whose bot is the local fake
pays at its first update, and one with a real bot before it is ready (channels/telegram/bot.py)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.web.keys import STARTS
from channels.telegram.fake_api import FakeBotApi
from channels.telegram.models import TelegramUpdate
from channels.telegram.webhook import TELEGRAM_BOT
from gateway.db.engine import Sessions
from tests.channels.telegram.conftest import SECRET
from tests.commands import command_env
from tests.waiting import HANG_SECONDS


async def test_a_web_process_is_ready_without_the_bots_types_and_reads_its_first_update_with_them(
        sessions: Sessions, settings: Settings, tmp_path: Path) -> None:
    ran = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "tests.channels.telegram.first_update"], capture_output=True, text=True,
        timeout=HANG_SECONDS, env=command_env(settings, GATEWAY_DATA_DIR=str(tmp_path)))
    assert ran.returncode == 0, ran.stderr
    printed = json.loads(ran.stdout.splitlines()[-1])
    assert {key: printed[key] for key in ("started", "ready", "answer", "after")} == {
        "started": False, "ready": 200, "answer": 200, "after": True}
    # What the first update built lives as long as the process, out of every later full collection: with aiogram's
    # types in it such a collection walked ~350,000 objects (0.29 s of a held loop on a slow day) where it now walks
    # what the process made since.
    assert printed["collected"] < 50_000, printed
    async with sessions() as session:
        assert await session.scalar(select(TelegramUpdate.update_id)) == 1  # kept (the fake Bot API is away here)


async def test_a_real_bots_reader_is_built_before_the_process_is_ready(bot_client: TestClient) -> None:
    """Not at its first update: that would hold up the votes the process is taking for seconds."""
    assert bot_client.app[TELEGRAM_BOT].reader is not None


async def test_the_bot_api_is_told_where_to_post_and_with_which_secret(
        clean: None, bot_settings: Settings, fake_bot_api: tuple[FakeBotApi, str]) -> None:
    app = create_app(bot_settings.model_copy(update={"public_base_url": "https://vote.example.org"}))
    fake = fake_bot_api[0]
    async with TestClient(TestServer(app)):
        for _ in range(250):
            if fake.webhook_url is not None:
                break
            await asyncio.sleep(0.02)
        await app[STARTS].close(grace=0)
    assert (fake.webhook_url, fake.secret) == ("https://vote.example.org/telegram/webhook", SECRET)
    assert [call.params["allowed_updates"] for call in fake.calls if call.method == "setWebhook"] == [
        ["message", "callback_query", "pre_checkout_query"]]
