"""`gateway telegram --simulate` walks the demo in Stars through the fake Bot API, and the board moves."""

from __future__ import annotations

import argparse
import asyncio
import io

from assembly.machine.demo import seed_demo
from channels.telegram.fake_api import FakeBotApi
from channels.telegram.simulator import main as simulate
from gateway.db.engine import Sessions
from tests.factories import tallies


async def test_the_simulation_votes_5_for_07_in_stars(telegram: FakeBotApi, sessions: Sessions,
                                                      fake_bot_api: tuple[FakeBotApi, str]) -> None:
    contest = await seed_demo(sessions)
    args = argparse.Namespace(fake_url=fake_bot_api[1], user=700000001, language="en", candidate="07", votes=5)
    out = io.StringIO()
    assert await asyncio.to_thread(simulate, args, out) == 0
    shown = out.getvalue()
    assert "invoice: 50 XTR" in shown
    assert "Payment received, thank you!" in shown
    before, after = shown.split("> /start")[0], shown.split("> /top (after)")[1]
    assert "Grace Ndongo" not in before and "1. 07 Grace Ndongo: 5" in after
    assert (await tallies(sessions, contest.id))["07"] == 5


async def test_the_simulation_says_when_the_fake_bot_api_is_not_running() -> None:
    args = argparse.Namespace(fake_url="http://127.0.0.1:9", user=1, language="en", candidate="07", votes=5)
    assert await asyncio.to_thread(simulate, args, io.StringIO()) == 1
