"""The entry page tells a candidate what went wrong in the page's language (Debian's Chromium, headless,
phone-sized): the API's refusals are English, for programs; the page has words of its own for each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, Page, expect
from redis.asyncio import Redis

from gateway.db.engine import Sessions
from gateway.db.models import Contest, EntryCall
from gateway.kit.phone_proof import new_code
from tests.chromium import CHROMIUM
from tests.factories import make_contest

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (`make test` installs it)")
PHONE = "+237670007701"



async def open_call(sessions: Sessions) -> Contest:
    contest = await make_contest(sessions, candidates=2)
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        session.add(EntryCall(contest_id=contest.id, opens_at=now - timedelta(hours=1),
                              closes_at=now + timedelta(days=7), rules="One clip, your own work."))
    return contest


async def phone_page(browser: Browser, light_work_site: str, contest: Contest, lang: str) -> Page:
    page = await browser.new_page(viewport={"width": 412, "height": 915})
    page.set_default_timeout(15_000)
    await page.goto(f"{light_work_site}/c/{contest.slug}/enter?lang={lang}")
    return page


async def test_a_wrong_code_is_told_in_french_on_a_french_page(light_work_site: str, browser: Browser,
                                                               sessions: Sessions) -> None:
    page = await phone_page(browser, light_work_site, await open_call(sessions), "fr")
    await page.locator("#msisdn").fill(PHONE)
    await page.locator("#phone-form button[type=submit]").click()
    await expect(page.locator("#code-box")).to_be_visible()
    await page.locator("#code").fill("000000")  # one in a million is the code sent: then the page goes on
    await page.locator("#check-code").click()
    await expect(page.locator("#entry-error")).to_have_text(
        "Ce n'est pas le code que nous vous avons envoyé, ou il a expiré ou déjà servi ; demandez-en un nouveau.")


async def test_a_second_code_within_the_minute_is_refused_in_swahili_on_a_swahili_page(
        light_work_site: str, browser: Browser, redis: Redis, sessions: Sessions) -> None:
    contest = await open_call(sessions)
    # A code texted to the number a moment ago, from another phone's page.
    await new_code(redis, PHONE, "entry", "41.202.1.9", per_day=100, scope=f"contest:{contest.id}")
    page = await phone_page(browser, light_work_site, contest, "sw")
    await page.locator("#msisdn").fill(PHONE)
    await page.locator("#phone-form button[type=submit]").click()
    await expect(page.locator("#entry-error")).to_have_text(
        "Misimbo mingi mno imeombwa; subiri dakika moja kisha ujaribu tena.")


async def test_a_number_the_contest_does_not_serve_is_refused_in_english_words_of_the_page(
        light_work_site: str, browser: Browser, sessions: Sessions) -> None:
    page = await phone_page(browser, light_work_site, await open_call(sessions), "en")
    await page.locator("#msisdn").fill("+33612345678")  # French: a Cameroonian contest texts Cameroon's numbers
    await page.locator("#phone-form button[type=submit]").click()
    await expect(page.locator("#entry-error")).to_have_text("Use a mobile number of a country this contest runs in.")
