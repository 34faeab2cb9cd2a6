"""Mobile money in the bot from Kenya, end to end against the M-Pesa and Airtel sandbox: where the organiser opted
in, a user shares its own number, its network's wallet gets the prompt, the sandbox's callback counts the votes
once, and the receipt comes in the chat."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from assembly.settings import Settings
from channels.telegram.fake_api import FakeBotApi
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus
from tests.channel_names import Channel
from tests.channels.telegram.conftest import SECRET, TOKEN
from tests.east_africa import AIRTEL_KENYA, SAFARICOM, EastAfrica, east_africa, kenyan_contest

USER = 5550254


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions, redis: Redis,
               fake_bot_api: tuple[FakeBotApi, str]) -> AsyncIterator[EastAfrica]:
    """The app's bot talking to the fake Bot API, which posts the user's updates to the app's webhook."""
    fake, api_base = fake_bot_api
    async with east_africa(settings, sessions, redis, telegram_bot_token=SecretStr(TOKEN),
                           telegram_webhook_secret=SecretStr(SECRET), telegram_api_base=api_base) as running:
        fake.webhook_url, fake.secret = str(running.client.make_url("/telegram/webhook")), SECRET
        yield running


@pytest.mark.parametrize(("msisdn", "provider"), [(SAFARICOM, "mpesa"), (AIRTEL_KENYA, "airtel")])
async def test_a_kenyan_user_sharing_its_number_pays_by_its_networks_wallet_and_gets_the_receipt(
        live: EastAfrica, fake_bot_api: tuple[FakeBotApi, str], msisdn: str, provider: str) -> None:
    telegram = fake_bot_api[0]
    contest = await kenyan_contest(live.sessions, stars_per_vote=10, name="Kenya Stars", telegram_mobile_money=True)
    await telegram.say(USER, "/start")
    await telegram.press(USER, "Kenya Stars")
    await telegram.press(USER, "01 Candidate 01")
    await telegram.press(USER, "5")
    labels = [label for label, _ in telegram.last_message(USER).buttons]
    assert labels == ["Pay 50 ⭐ in Telegram Stars", "Pay Ksh\u00a050.00 by mobile money", "« Back"]
    await telegram.press(USER, "Pay Ksh\u00a050.00 by mobile money")
    await telegram.say(USER, "12")  # a number typed wrong: shown one as Kenyans write theirs
    assert telegram.last_message(USER).text == "This is not a valid phone number; type it again, e.g. 0712 123456."
    await telegram.share_contact(USER, msisdn.lstrip("+"))  # Telegram's contacts come without the "+"
    # M-Pesa's prompt asks for the PIN and is gone once closed; Airtel's is approved (or found in its menu)
    assert telegram.last_message(USER).text == {
        "mpesa": f"Enter your M-Pesa PIN on the prompt that appeared on {msisdn} to pay Ksh\u00a050.00. "
                 "Your receipt follows here.",
        "airtel": f"A payment request was sent to {msisdn}: approve it on your phone. Your receipt follows here.",
    }[provider]
    [order] = await live.orders()
    assert (order.channel, order.provider, order.voter_msisdn, order.amount, order.currency) == (
        Channel.TELEGRAM, provider, msisdn, 5000, "KES")

    order = await live.settled(order.id)  # pushed after the reply; the sandbox approves and calls back
    assert order.status is OrderStatus.PAID and order.provider_txn_id
    assert await live.votes(contest) == 5
    await live.deliver_outbox()
    await live.deliver_outbox()  # the receipts job run again sends nothing more
    # M-Pesa gives its payers a receipt code (its MpesaReceiptNumber): the receipt quotes it; Airtel's gives none
    code = f" M-Pesa receipt: {order.provider_txn_id}." if provider == "mpesa" else ""
    receipt = (f"Receipt {order.id.hex[:8].upper()}\n5 votes for 01 Candidate 01 counted in Kenya Stars.{code} "
               "Thank you!")
    assert telegram.texts(USER).count(receipt) == 1 and telegram.last_message(USER).text == receipt
    assert await live.votes(contest) == 5
