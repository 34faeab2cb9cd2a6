"""Mobile money in the bot, only where the organiser opted in: the payer's own number, then the MoMo push."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from assembly.web.keys import STARTS
from channels.telegram.fake_api import FakeBotApi
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, VoteOrder
from gateway.kit.keys import CHECKS
from tests.channel_names import Channel
from tests.factories import make_contest, tallies
from tests.fakes.mtn import FakeMtn, callback

USER = 5550003


async def pay_options(telegram: FakeBotApi) -> list[str]:
    await telegram.say(USER, "/start")
    await telegram.press(USER, "Star Quest")
    await telegram.press(USER, "01 Candidate 01")
    await telegram.press(USER, "5")
    return [label for label, _ in telegram.last_message(USER).buttons]


async def test_without_the_organisers_opt_in_the_bot_sells_only_stars(telegram: FakeBotApi,
                                                                      sessions: Sessions) -> None:
    await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    assert await pay_options(telegram) == ["Pay 50 ⭐ in Telegram Stars", "« Back"]


async def test_a_vote_paid_by_mtn_from_the_bot(telegram: FakeBotApi, bot_client: TestClient, sessions: Sessions,
                                               fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, stars_per_vote=10, name="Star Quest", telegram_mobile_money=True)
    labels = await pay_options(telegram)
    assert labels == ["Pay 50 ⭐ in Telegram Stars", "Pay FCFA\u00a0500 by mobile money", "« Back"]
    await telegram.press(USER, "Pay FCFA\u00a0500 by mobile money")
    asked = telegram.last_message(USER)
    assert asked.text.startswith("Share your mobile money number") and asked.buttons == [("Share my number", "")]
    share = telegram.calls_of("sendMessage")[-1]["reply_markup"]
    assert share["keyboard"][0][0]["request_contact"] is True

    await telegram.share_contact(USER, "237677123456", own=False)  # someone else's contact
    assert telegram.last_message(USER).text == "Please share your own number (or type it)."
    await telegram.say(USER, "12")
    assert telegram.last_message(USER).text.startswith("This is not a valid phone number")
    async with sessions() as session:
        assert (await session.scalars(select(VoteOrder))).all() == []

    await telegram.share_contact(USER, "237677123456")
    assert telegram.last_message(USER).text.startswith("A payment request was sent to +237677123456")
    await bot_client.app[STARTS].wait_idle()  # the push goes out after the reply, as on USSD
    async with sessions() as session:
        order = (await session.scalars(select(VoteOrder))).one()
    assert (order.provider, order.channel, order.amount, order.currency) == ("mtn", Channel.TELEGRAM, 500, "XAF")
    assert fake_mtn.pay_calls == 1

    fake_mtn.decide(order.payment_reference, "SUCCESSFUL")
    assert await callback(bot_client, order.id, {"status": "SUCCESSFUL"}) == 200
    await bot_client.app[CHECKS].wait_idle()  # MTN's callback is not signed: its status is asked
    async with sessions() as session:
        order = (await session.scalars(select(VoteOrder))).one()
    assert order.status is OrderStatus.PAID
    assert (await tallies(sessions, contest.id))["01"] == 5


async def test_a_swahili_user_is_asked_to_pay_by_mobile_money_in_swahili(
        telegram: FakeBotApi, bot_client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    """A Telegram set to Swahili (language_code "sw", as in Kenya and Tanzania) gets every message in it,
    though the contest's own language is French."""
    await make_contest(sessions, stars_per_vote=10, name="Star Quest", telegram_mobile_money=True)
    await telegram.say(USER, "/start", language_code="sw")
    assert telegram.last_message(USER).text == "Karibu! Chagua shindano la kupigia kura:"
    await telegram.press(USER, "Star Quest", language_code="sw")
    await telegram.press(USER, "01 Candidate 01", language_code="sw")
    assert telegram.last_message(USER).text.startswith("Kura ngapi kwa 01 Candidate 01? (1 hadi 100)")
    await telegram.press(USER, "5", language_code="sw")
    assert [label for label, _ in telegram.last_message(USER).buttons] == [
        "Lipa 50 ⭐ kwa Telegram Stars", "Lipa FCFA\u00a0500 kwa pesa ya simu", "« Rudi"]
    await telegram.press(USER, "Lipa FCFA\u00a0500 kwa pesa ya simu", language_code="sw")
    assert telegram.last_message(USER).buttons == [("Shiriki nambari yangu", "")]
    await telegram.share_contact(USER, "237677123456", language_code="sw")
    assert telegram.last_message(USER).text == ("Ombi la malipo limetumwa kwa +237677123456: lithibitishe kwenye "
                                                "simu yako. Risiti yako itafuata hapa.")
    await bot_client.app[STARTS].wait_idle()
    async with sessions() as session:
        order = (await session.scalars(select(VoteOrder))).one()
    assert (order.provider, order.language) == ("mtn", "sw")  # its receipt will speak Swahili too


async def test_a_number_typed_as_the_refusal_shows_it_with_spaces_gets_the_prompt(
        telegram: FakeBotApi, bot_client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    """The refusal of a number typed wrong shows one as Cameroonians write theirs, spaced out; the voter who types
    theirs that way (nine digits in thirteen characters) gets the payment's prompt, not the same refusal again."""
    await make_contest(sessions, stars_per_vote=10, name="Star Quest", telegram_mobile_money=True)
    await pay_options(telegram)
    await telegram.press(USER, "Pay FCFA\u00a0500 by mobile money")
    await telegram.say(USER, "12")
    refusal = telegram.last_message(USER).text
    assert refusal == "This is not a valid phone number; type it again, e.g. 6 71 23 45 67."
    await telegram.say(USER, refusal.removeprefix("This is not a valid phone number; type it again, e.g. ")[:-1])
    assert telegram.last_message(USER).text.startswith("A payment request was sent to +237671234567")
    await bot_client.app[STARTS].wait_idle()
    async with sessions() as session:
        order = (await session.scalars(select(VoteOrder))).one()
    assert (order.provider, order.voter_msisdn, order.amount) == ("mtn", "+237671234567", 500)
    assert fake_mtn.pay_calls == 1
