"""Stars payments whose `successful_payment` never reached the webhook, found in Telegram's list of Star
transactions, which lists the newest first: each pass finds what was paid since the one before."""

from __future__ import annotations

import httpx
from redis.asyncio import Redis

from channels.telegram.fake_api import FakeBotApi
from gateway.config import Settings
from gateway.db.engine import Sessions
from gateway.worker_jobs import JobContext, stars_check_pass
from payments.registry import build_registry
from tests.factories import make_contest, tallies

USERS = (5550011, 5550012)


async def paid_but_never_told(telegram: FakeBotApi, user: int, candidate: str) -> None:
    await telegram.say(user, "/start")
    await telegram.press(user, "Star Quest")
    await telegram.press(user, candidate)
    await telegram.press(user, "1")
    await telegram.press(user, "Pay 10 ⭐ in Telegram Stars")
    assert (await telegram.pre_checkout(user))["ok"] in (True, "true")
    telegram.payment_update(user)  # Telegram took the Stars; its message never reached us


async def test_each_pass_finds_the_payments_missed_since_the_last_one(
        telegram: FakeBotApi, sessions: Sessions, bot_settings: Settings, redis: Redis) -> None:
    contest = await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    async with httpx.AsyncClient() as http:
        context = JobContext(bot_settings, sessions, redis, build_registry(bot_settings, http))
        await paid_but_never_told(telegram, USERS[0], "05 Candidate 05")
        assert await stars_check_pass(context) == 1
        await paid_but_never_told(telegram, USERS[1], "04 Candidate 04")  # listed first now: the newest
        assert await stars_check_pass(context) == 1
        assert await stars_check_pass(context) == 0  # nothing counted twice
    assert (await tallies(sessions, contest.id))["05"] == 1
    assert (await tallies(sessions, contest.id))["04"] == 1
