"""A web process and aiogram: its types take ~2 s of CPU to build, which a web process that has read no
Telegram update does not pay (channels/telegram/bot.py)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from assembly.settings import Settings
from channels.telegram.models import TelegramUpdate
from gateway.db.engine import Sessions
from tests.commands import command_env


async def test_a_web_process_is_ready_without_the_bots_types_and_reads_its_first_update_with_them(
        sessions: Sessions, settings: Settings, tmp_path: Path) -> None:
    ran = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "tests.telegram.first_update"], capture_output=True, text=True,
        timeout=120, env=command_env(settings, GATEWAY_DATA_DIR=str(tmp_path)))
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout.splitlines()[-1]) == {"started": False, "ready": 200, "answer": 200, "after": True}
    async with sessions() as session:
        assert await session.scalar(select(TelegramUpdate.update_id)) == 1  # kept, and read by the bot
