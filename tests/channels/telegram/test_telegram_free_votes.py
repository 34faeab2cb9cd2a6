"""A free vote in the bot: /free, the user's own number, the code texted to it (read from the text queued for the
worker), a candidate's code: counted once a day; a second is refused, a wrong code or someone else's contact too,
and nothing is recorded for a refusal; no invoice, no order."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from assembly.settings import Settings
from channels.telegram.fake_api import FakeBotApi
from gateway.core.orders.free_votes import FreeVoteRequest, take_free_vote
from gateway.core.phone_texts import TEXT_CODE_PASS
from gateway.db.engine import Sessions
from gateway.db.models import BlockedMsisdn, FreeVote, VoteOrder
from gateway.jobs.queues import job_queue, sync_redis
from tests.east_africa import kenyan_contest
from tests.factories import make_contest

USER = 5550077
PHONE = "+237677123456"


def texted_code(settings: Settings, phone: str = PHONE) -> str:
    texts = [job.args[2] for job in job_queue(sync_redis(settings.redis_url or "")).get_jobs()
             if job.args[:2] == [TEXT_CODE_PASS, phone]]
    found = re.search(r"\b(\d{6})\b", texts[-1])
    assert found is not None
    return found.group(1)


async def proven(telegram: FakeBotApi, settings: Settings, language_code: str = "en") -> None:
    await telegram.say(USER, "/free", language_code=language_code)
    await telegram.share_contact(USER, PHONE.removeprefix("+"), language_code=language_code)
    await telegram.say(USER, texted_code(settings), language_code=language_code)


async def counts(sessions: Sessions) -> tuple[int, int]:
    async with sessions() as session:
        free = await session.scalar(select(func.count()).select_from(FreeVote).where(FreeVote.channel == "telegram"))
        orders = await session.scalar(select(func.count()).select_from(VoteOrder))
    return int(free or 0), int(orders or 0)


async def test_a_proven_number_takes_its_free_vote_and_is_refused_a_second(
        telegram: FakeBotApi, bot_client: TestClient, settings: Settings, sessions: Sessions) -> None:
    await make_contest(sessions, name="Star Quest", stars_per_vote=10, free_votes_per_day=1)
    await telegram.say(USER, "/free")
    assert telegram.last_message(USER).text.startswith("A free vote in Star Quest: share your phone number")
    await telegram.share_contact(USER, "237677000000", own=False)  # someone else's contact
    assert telegram.last_message(USER).text == "Please share your own number (or type it)."
    await telegram.share_contact(USER, PHONE.removeprefix("+"))
    assert telegram.last_message(USER).text == f"We texted a code to {PHONE}. Send it here."
    await telegram.say(USER, "000000" if texted_code(settings) != "000000" else "111111")
    assert telegram.last_message(USER).text.startswith("That is not the code we texted")
    await telegram.say(USER, texted_code(settings))
    assert telegram.last_message(USER).text == "Your number is proven. Send the code of your candidate (e.g. 07)."
    await telegram.say(USER, "2")
    assert telegram.last_message(USER).text == "Your free vote for 02 Candidate 02 is counted. Free votes left: 0."
    assert await counts(sessions) == (1, 0)


async def test_a_number_that_took_its_free_vote_is_refused_in_the_users_language(
        telegram: FakeBotApi, bot_client: TestClient, settings: Settings, sessions: Sessions) -> None:
    contest = await make_contest(sessions, name="Star Quest", stars_per_vote=10, free_votes_per_day=1)
    await take_free_vote(sessions, FreeVoteRequest(contest.slug, "03", PHONE, "sms"))  # taken by SMS this morning
    await proven(telegram, settings, "fr")
    await telegram.say(USER, "01", language_code="fr")
    assert telegram.last_message(USER).text == ("Ce numéro a déjà pris ses votes gratuits aujourd'hui. Revenez "
                                                "demain, ou votez avec /start.")
    await telegram.say(USER, "/free", language_code="fr")
    await telegram.share_contact(USER, PHONE.removeprefix("+"), language_code="fr")
    assert telegram.last_message(USER).text.startswith("Trop de codes demandés pour ce numéro")  # a minute between two
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(FreeVote)) == 1


async def test_a_blocked_number_is_refused_and_nothing_is_recorded(
        telegram: FakeBotApi, bot_client: TestClient, settings: Settings, sessions: Sessions) -> None:
    await make_contest(sessions, name="Star Quest", stars_per_vote=10, free_votes_per_day=1)
    async with sessions.begin() as session:
        session.add(BlockedMsisdn(msisdn=PHONE, reason="test"))
    await proven(telegram, settings)
    await telegram.say(USER, "01")
    assert telegram.last_message(USER).text == "This number cannot vote. Contact the organiser if this is a mistake."
    assert await counts(sessions) == (0, 0)


async def test_without_a_contest_giving_free_votes_the_bot_says_so(telegram: FakeBotApi, sessions: Sessions) -> None:
    await make_contest(sessions, name="Star Quest", stars_per_vote=10)
    await telegram.say(USER, "/free")
    assert telegram.last_message(USER).text == "No contest gives free votes right now."


@pytest.mark.parametrize(("country", "typed", "number"), [
    ("CM", "6 71 23 45 67", "+237671234567"),  # as the bot's refusal of a number typed wrong shows one
    ("CM", " 670 000 001", "+237670000001"),
    ("CM", "00237 670 000 001", "+237670000001"),
    ("KE", "712 000 102", "+254712000102"),
    ("SN", "77 123 45 67", "+221771234567"),
])
async def test_a_number_typed_with_spaces_is_texted_its_code_and_takes_the_free_vote(
        telegram: FakeBotApi, bot_client: TestClient, settings: Settings, sessions: Sessions, country: str,
        typed: str, number: str) -> None:
    """Read in the contest's country, whatever spaces the voter puts in it."""
    if country == "KE":
        await kenyan_contest(sessions, name="Star Quest", stars_per_vote=10, free_votes_per_day=1)
    else:
        await make_contest(sessions, name="Star Quest", stars_per_vote=10, free_votes_per_day=1,
                           currency="XAF" if country == "CM" else "XOF", country=country)
    await telegram.say(USER, "/free")
    await telegram.say(USER, typed)
    assert telegram.last_message(USER).text == f"We texted a code to {number}. Send it here."
    await telegram.say(USER, texted_code(settings, number))
    await telegram.say(USER, "2")
    assert telegram.last_message(USER).text == "Your free vote for 02 Candidate 02 is counted. Free votes left: 0."
    async with sessions() as session:
        assert (await session.scalars(select(FreeVote.msisdn))).all() == [number]
