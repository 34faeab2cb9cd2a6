"""The bot tells a voter what works: a number that cannot pay the contest (another country's, a network none of its
wallets serves) is told its wallets and its country's prefix, and a refused vote is said in the voter's language,
never the core's English message."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from channels.telegram.fake_api import FakeBotApi
from gateway.db.engine import Sessions
from gateway.db.models import BlockedMsisdn, VoteOrder
from tests.channels.telegram.test_mobile_money import USER
from tests.factories import make_contest
from tests.fakes.mtn import FakeMtn

PAY = {"en": "Pay FCFA\u00a0500 by mobile money", "sw": "Lipa FCFA\u00a0500 kwa pesa ya simu"}


async def ask_for_a_number(telegram: FakeBotApi, language_code: str = "en") -> None:
    await telegram.say(USER, "/start", language_code=language_code)
    for button in ("Star Quest", "01 Candidate 01", "5", PAY[language_code]):
        await telegram.press(USER, button, language_code=language_code)


async def orders(sessions: Sessions) -> list[VoteOrder]:
    async with sessions() as session:
        return list((await session.scalars(select(VoteOrder))).all())


async def test_a_kenyan_number_on_a_cameroonian_contest_is_told_what_the_contest_takes(
        telegram: FakeBotApi, bot_client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    await make_contest(sessions, stars_per_vote=10, name="Star Quest", telegram_mobile_money=True,
                       providers=["mtn", "orange"])
    await ask_for_a_number(telegram)
    await telegram.share_contact(USER, "254712000101")
    assert telegram.last_message(USER).text == "This contest is paid by MTN MoMo or Orange Money, numbers +237."
    assert await orders(sessions) == []
    await telegram.say(USER, "677123456")  # still asked for a number: a Cameroonian one votes
    assert telegram.last_message(USER).text.startswith("A payment request was sent to +237677123456")
    assert [order.provider for order in await orders(sessions)] == ["mtn"]


async def test_a_refused_vote_is_told_in_the_voter_s_language(
        telegram: FakeBotApi, bot_client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    await make_contest(sessions, stars_per_vote=10, name="Star Quest", telegram_mobile_money=True)
    async with sessions.begin() as session:
        session.add(BlockedMsisdn(msisdn="+237677123456", reason="chargebacks"))
    await ask_for_a_number(telegram, "sw")
    await telegram.share_contact(USER, "237677123456", language_code="sw")
    assert telegram.last_message(USER).text == ("Nambari hii haiwezi kupiga kura. Wasiliana na mwandalizi ikiwa ni "
                                                "kosa.")
    assert await orders(sessions) == []
