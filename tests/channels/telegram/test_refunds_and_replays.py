"""Refunds of Stars votes (as `gateway refund` makes them) and updates replayed after a crash."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from sqlalchemy import select

from assembly.resources.providers import build_providers
from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.web.keys import STARTS
from assembly.worker.job_runtime import JobContext
from channels.telegram.fake_api import FakeBotApi
from channels.telegram.models import TelegramUpdate
from channels.telegram.polling import poll
from channels.telegram.settings import TelegramBotAddress
from gateway.core.money_out.refunds import request_refund
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, VoteOrder
from payments.stars.provider import missed_payments
from tests.channels.telegram.conftest import SECRET
from tests.factories import make_contest, tallies

USER = 5550002


async def test_gateway_refund_gives_the_stars_back(telegram: FakeBotApi, sessions: Sessions,
                                                   bot_settings: Settings) -> None:
    contest = await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    await telegram.say(USER, "/start")
    await telegram.press(USER, "Star Quest")
    await telegram.press(USER, "04 Candidate 04")
    await telegram.press(USER, "10")
    await telegram.press(USER, "Pay 100 ⭐ in Telegram Stars")
    assert await telegram.pay(USER)
    assert (await tallies(sessions, contest.id))["04"] == 10
    async with sessions() as session:
        order = (await session.scalars(select(VoteOrder))).one()

    async with httpx.AsyncClient() as http:  # what `gateway refund <order>` runs
        outcome = await request_refund(sessions, build_providers(bot_settings, http), order.id, "cli")
    assert outcome.status is OrderStatus.REFUNDED
    assert telegram.calls_of("refundStarPayment") == [
        {"user_id": USER, "telegram_payment_charge_id": order.provider_txn_id}]
    assert (await tallies(sessions, contest.id))["04"] == 0


async def test_an_update_whose_handler_died_is_handled_at_the_next_start(
        clean: None, sessions: Sessions, bot_settings: Settings, fake_bot_api: tuple[FakeBotApi, str]) -> None:
    fake, _ = fake_bot_api
    await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    stored = fake.message_update(USER, "en", text="/start",
                                 entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    async with sessions.begin() as session:  # kept before the 200, then the process died while handling it
        session.add(TelegramUpdate(update_id=stored["update_id"], payload=stored,
                                   claimed_at=datetime.now(UTC) - timedelta(minutes=5)))

    app = create_app(bot_settings)
    async with TestClient(TestServer(app)) as client:
        fake.webhook_url, fake.secret = str(client.make_url("/telegram/webhook")), SECRET
        deadline = time.monotonic() + 10
        while USER not in fake.chats and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert fake.texts(USER) == ["Welcome! Choose a contest to vote in:"]
        assert await fake.deliver(stored) == 200  # Telegram re-sends it too: answered, not handled again
        assert fake.texts(USER) == ["Welcome! Choose a contest to vote in:"]
        await app[STARTS].close(grace=0)
    async with sessions() as session:
        kept = await session.scalar(select(TelegramUpdate))
    assert kept is not None and kept.handled_at is not None


async def test_polling_relays_updates_to_the_webhook_once(telegram: FakeBotApi, bot_client: TestClient,
                                                          sessions: Sessions,
                                                          fake_bot_api: tuple[FakeBotApi, str]) -> None:
    await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    webhook = str(bot_client.make_url("/telegram/webhook"))
    async with httpx.AsyncClient() as http:
        await http.post(f"{fake_bot_api[1]}/bot42:TEST/deleteWebhook")  # a bot polling has no webhook
        await telegram.say(USER, "/start")
        await telegram.say(USER, "/paysupport")
        assert USER not in telegram.chats  # nothing reached the bot yet: the updates wait for getUpdates
        relayed = await poll(http, TelegramBotAddress("42:TEST", fake_bot_api[1], fake=True), webhook, SECRET,
                             rounds=2, wait_seconds=0)
    assert relayed == 2
    assert telegram.texts(USER)[0] == "Welcome! Choose a contest to vote in:"
    assert telegram.texts(USER)[1].startswith("Payment support:")


async def test_a_payment_the_webhook_missed_is_found_in_the_star_transactions(
        telegram: FakeBotApi, sessions: Sessions, bot_settings: Settings, redis: Redis) -> None:
    contest = await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    await telegram.say(USER, "/start")
    await telegram.press(USER, "Star Quest")
    await telegram.press(USER, "05 Candidate 05")
    await telegram.press(USER, "1")
    await telegram.press(USER, "Pay 10 ⭐ in Telegram Stars")
    assert (await telegram.pre_checkout(USER))["ok"] in (True, "true")
    telegram.payment_update(USER)  # Telegram took the Stars; its message never reached us
    assert (await tallies(sessions, contest.id))["05"] == 0

    async with httpx.AsyncClient() as http:
        context = JobContext(bot_settings, sessions, redis, build_providers(bot_settings, http))
        assert await missed_payments(context) == 1
        assert await missed_payments(context) == 0  # the next pass counts nothing twice
    assert (await tallies(sessions, contest.id))["05"] == 1
