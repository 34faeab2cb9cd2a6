"""Stars payments whose `successful_payment` never reached the webhook, found in Telegram's list of Star
transactions, which lists the newest first: each pass finds what was paid since the one before; a payment
given back already is not counted, and a list oldest first is read to its end rather than trusted."""

from __future__ import annotations

import time

import httpx
from redis.asyncio import Redis

from assembly.resources.providers import build_providers
from assembly.settings import Settings
from assembly.worker.job_runtime import JobContext
from channels.telegram.fake_api import FakeBotApi
from gateway.db.engine import Sessions
from payments.stars.provider import missed_payments
from payments.stars.sync import STARS_SEEN_KEY
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
        context = JobContext(bot_settings, sessions, redis, build_providers(bot_settings, http))
        await paid_but_never_told(telegram, USERS[0], "05 Candidate 05")
        assert await missed_payments(context) == 1
        await paid_but_never_told(telegram, USERS[1], "04 Candidate 04")  # listed first now: the newest
        assert await missed_payments(context) == 1
        assert await missed_payments(context) == 0  # nothing counted twice
    assert (await tallies(sessions, contest.id))["05"] == 1
    assert (await tallies(sessions, contest.id))["04"] == 1


async def test_a_missed_payment_already_given_back_is_not_counted(
        telegram: FakeBotApi, sessions: Sessions, bot_settings: Settings, redis: Redis,
        fake_bot_api: tuple[FakeBotApi, str]) -> None:
    contest = await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    await paid_but_never_told(telegram, USERS[0], "05 Candidate 05")
    charge = telegram.transactions[-1]["id"]
    async with httpx.AsyncClient() as http:  # refunded at Telegram (listed as its own transaction) before our pass
        answer = await http.post(f"{fake_bot_api[1]}/bot42:TEST/refundStarPayment", json={
            "user_id": USERS[0], "telegram_payment_charge_id": charge})
        assert answer.json()["ok"] is True
        context = JobContext(bot_settings, sessions, redis, build_providers(bot_settings, http))
        assert await missed_payments(context) == 0
    assert (await tallies(sessions, contest.id))["05"] == 0  # no votes, so no receipt to take back later


async def test_a_list_oldest_first_is_read_to_its_end_and_the_missed_payment_counts(
        telegram: FakeBotApi, sessions: Sessions, bot_settings: Settings, redis: Redis) -> None:
    contest = await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    long_ago = int(time.time()) - 86400
    telegram.transactions += [{"id": f"stxOLD{i:04d}", "amount": 1, "date": long_ago + i,  # withdrawals, old
                               "receiver": {"type": "fragment"}} for i in range(150)]
    telegram.lists_newest_first = False  # should Telegram ever list the oldest first
    await redis.set(STARS_SEEN_KEY, int(time.time()) - 3600)  # the last whole pass, an hour ago
    await paid_but_never_told(telegram, USERS[0], "05 Candidate 05")  # on the list's second page
    async with httpx.AsyncClient() as http:
        context = JobContext(bot_settings, sessions, redis, build_providers(bot_settings, http))
        assert await missed_payments(context) == 1
    assert (await tallies(sessions, contest.id))["05"] == 1
    assert int(await redis.get(STARS_SEEN_KEY) or 0) >= int(time.time()) - 60  # the mark moved on, not back
