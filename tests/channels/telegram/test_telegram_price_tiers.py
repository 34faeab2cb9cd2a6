"""Bundles in the bot: the quantity buttons are the contest's price tiers, each with its price where mobile money is
offered, and a bundle paid by MTN (faked at the wire) is asked and counted at the bundle's amount; Stars stay priced
per vote."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from assembly.web.keys import STARTS
from channels.telegram.fake_api import FakeBotApi
from gateway.db.engine import Sessions
from gateway.db.models import VoteOrder
from tests.factories import make_contest
from tests.fakes.mtn import FakeMtn

USER = 5550077
TIERS = [{"votes": 1, "amount": 100}, {"votes": 10, "amount": 900}, {"votes": 50, "amount": 4000}]


async def quantity_buttons(telegram: FakeBotApi) -> list[str]:
    await telegram.say(USER, "/start")
    await telegram.press(USER, "Star Quest")
    await telegram.press(USER, "01 Candidate 01")
    return [label for label, _ in telegram.last_message(USER).buttons]


async def test_the_bundles_are_the_buttons_and_mtn_is_asked_the_bundles_amount(
        telegram: FakeBotApi, bot_client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    await make_contest(sessions, stars_per_vote=10, name="Star Quest", telegram_mobile_money=True, price_tiers=TIERS)
    assert (await quantity_buttons(telegram))[:3] == ["1 · FCFA\u00a0100", "10 · FCFA\u00a0900", "50 · FCFA\u00a04,000"]
    await telegram.press(USER, "10 · FCFA\u00a0900")
    assert [label for label, _ in telegram.last_message(USER).buttons] == [
        "Pay 100 ⭐ in Telegram Stars", "Pay FCFA\u00a0900 by mobile money", "« Back"]
    await telegram.press(USER, "Pay FCFA\u00a0900 by mobile money")
    await telegram.share_contact(USER, "237677123456")
    await bot_client.app[STARTS].wait_idle()
    async with sessions() as session:
        order = (await session.scalars(select(VoteOrder))).one()
    assert (order.quantity, order.amount, order.currency) == (10, 900, "XAF")
    assert [status["amount"] for status in fake_mtn.statuses.values()] == ["900"]


async def test_stars_only_shows_the_bundles_votes_alone(telegram: FakeBotApi, sessions: Sessions) -> None:
    await make_contest(sessions, stars_per_vote=10, name="Star Quest", price_tiers=TIERS)
    assert (await quantity_buttons(telegram))[:3] == ["1", "10", "50"]


async def test_a_typed_number_that_is_a_bundle_gets_its_price(
        telegram: FakeBotApi, sessions: Sessions) -> None:
    await make_contest(sessions, stars_per_vote=10, name="Star Quest", telegram_mobile_money=True, price_tiers=TIERS)
    await quantity_buttons(telegram)
    await telegram.say(USER, "50")
    assert "Pay FCFA\u00a04,000 by mobile money" in [label for label, _ in telegram.last_message(USER).buttons]
    await telegram.say(USER, "/start")
    await telegram.press(USER, "Star Quest")
    await telegram.press(USER, "01 Candidate 01")
    await telegram.say(USER, "3")
    assert "Pay FCFA\u00a0300 by mobile money" in [label for label, _ in telegram.last_message(USER).buttons]
