"""A candidate's page says how to vote on every channel the contest has, each channel in its own words, and what
it says works: the dial reaches the candidate's votes over USSD, the bot's link opens on the candidate."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from assembly.settings import Settings
from channels.telegram.fake_api import FakeBotApi
from gateway.db.engine import Sessions
from tests.channels.telegram.conftest import SECRET, TOKEN, bot_client, fake_bot_api, telegram  # noqa: F401
from tests.channels.ussd.conftest import phones  # noqa: F401
from tests.channels.ussd.sessions import Phones, form, phone_app
from tests.factories import make_contest

USER = 5550002


def how_to_vote(html: str) -> list[str]:
    """The lines of the page's "How to vote", as read (links' text)."""
    section = html.split('<section class="how"', 1)[1].split("</section>", 1)[0]
    return [re.sub(r"<[^>]+>", "", item).strip() for item in re.findall(r"<li[^>]*>(.*?)</li>", section)]


async def page(client: TestClient, path: str) -> str:
    response = await client.get(path, headers={"Accept-Language": "en"})
    assert response.status == 200
    return await response.text()


async def test_a_contest_with_ussd_and_sms_says_both_and_the_web(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala", ussd_service_codes=["*384*123#"], sms_short_code="20123",
                       sms_keyword="STAR")
    html = await page(client, "/c/gala/04")
    assert how_to_vote(html) == ["Dial *384*123*1*04#", "Text STAR 04 to 20123",
                                 "On this page: choose the number of votes below and pay"]
    assert 'href="tel:*384*123*1*04%23"' in html and 'href="sms:20123?body=STAR%2004"' in html
    assert 'href="#vote"' in html


async def test_a_contest_without_phone_channels_offers_the_web_only(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="web-only", ussd_service_codes=[], sms_short_code="", sms_keyword="")
    assert how_to_vote(await page(client, "/c/web-only/02")) == [
        "On this page: choose the number of votes below and pay"]


async def test_a_service_code_shared_with_another_open_contest_says_the_steps(client: TestClient,
                                                                             sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala", name="Gala", ussd_service_codes=["*384*123#"])
    await make_contest(sessions, slug="other", name="Other Show", ussd_service_codes=["*384*123#"],
                       sms_keyword="OTHER")
    assert how_to_vote(await page(client, "/c/gala/02"))[0] == "Dial *384*123#, choose Gala, then 1 (Vote) and 02"
    french = await (await client.get("/c/gala/02?lang=fr")).text()
    assert how_to_vote(french)[0] == "Composez *384*123#, choisissez Gala, puis 1 (Voter) et 02"


@pytest.fixture(name="ussd_client")
async def ussd_client_fixture(clean: None, settings: Settings,
                              phones: tuple[Phones, str]) -> AsyncIterator[TestClient]:  # noqa: F811
    """The app paying through the provider sandboxes: its USSD menu offers mobile money."""
    async with TestClient(TestServer(phone_app(settings, phones))) as test_client:
        yield test_client


async def test_the_dial_the_page_shows_lands_on_the_candidate_s_votes(ussd_client: TestClient,
                                                                     sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala", ussd_service_codes=["*384*123#"])
    [dial] = [line for line in how_to_vote(await page(ussd_client, "/c/gala/03")) if line.startswith("Dial")]
    dialled = dial.removeprefix("Dial ")
    # Africa's Talking: the service code, and what was dialled after it as inputs already typed.
    service_code, typed = "*384*123#", dialled.removeprefix("*384*123*").removesuffix("#")
    response = await ussd_client.post("/ussd/africastalking", data=form(typed, code=service_code))
    screen = await response.text()
    # The contest's language (French): the candidate chosen, the number of votes asked.
    assert screen.startswith("CON 03 Candidate 03\n") and "Nombre de votes (1-100) ?" in screen, screen


@pytest.fixture
def bot_settings(settings: Settings, fake_bot_api: tuple[FakeBotApi, str]) -> Settings:  # noqa: F811
    """The bot of tests/channels/telegram, with its public username."""
    return settings.model_copy(update={"telegram_bot_token": SecretStr(TOKEN),
                                       "telegram_webhook_secret": SecretStr(SECRET),
                                       "telegram_api_base": fake_bot_api[1], "telegram_bot_username": "BallotBot"})


async def test_the_bot_s_link_opens_it_on_the_candidate(bot_client: TestClient, telegram: FakeBotApi,  # noqa: F811
                                                        sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala", stars_per_vote=10)
    html = await page(bot_client, "/c/gala/02")
    link = f"https://t.me/BallotBot?start=v{contest.id}_02"
    assert f'<a href="{link}">On Telegram: open @BallotBot and vote</a>' in html
    assert await telegram.say(USER, f"/start {link.split('start=')[1]}") == 200
    assert "How many votes for 02 Candidate 02? (1 to 100)" in telegram.last_message(USER).text
    await telegram.press(USER, "5")
    assert telegram.last_message(USER).text.startswith("5 votes for 02 Candidate 02: 50 ⭐")

    await make_contest(sessions, slug="momo-only")  # no Stars price: the bot does not offer it
    assert "t.me/" not in await page(bot_client, "/c/momo-only/02")
