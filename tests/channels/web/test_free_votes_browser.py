"""The free vote's form in a real browser (Debian's Chromium, headless, phone-sized): the number, the code texted to
it (read from the text queued for the worker), the candidate; a number that took its free vote is refused in the
page's language. Its page answers 404 for a contest giving no free vote. The page is saved in tests/artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect
from redis.asyncio import Redis
from sqlalchemy import func, select

from assembly.settings import Settings
from gateway.core.orders.free_votes import FreeVoteRequest, take_free_vote
from gateway.core.phone_texts import TEXT_CODE_PASS
from gateway.db.engine import Sessions
from gateway.db.models import Contest, FreeVote
from gateway.jobs.queues import job_queue, sync_redis
from gateway.kit.phone_proof import new_code
from tests.chromium import ARTIFACTS, CHROMIUM
from tests.factories import make_contest

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (`make test` installs it)")
PHONE = "+237670006601"



async def texted_code(settings: Settings, page: Page, phone: str) -> str:
    """The code of the latest text queued for `phone`, once the page has asked for it."""
    await expect(page.locator("#code-box")).to_be_visible()
    texts = [job.args[2] for job in job_queue(sync_redis(settings.redis_url or "")).get_jobs()
             if job.args[:2] == [TEXT_CODE_PASS, phone]]
    found = re.search(r"\b(\d{6})\b", texts[-1])
    assert found is not None
    return found.group(1)


async def prove(page: Page, settings: Settings, light_work_site: str, contest: Contest) -> None:
    await page.goto(f"{light_work_site}/c/{contest.slug}/free-vote?lang=en")
    await page.get_by_label("Mobile number").fill(PHONE)
    await page.get_by_role("button", name="Text me a code").click()
    await page.get_by_label("The code we texted you").fill(await texted_code(settings, page, PHONE))
    await page.get_by_role("button", name="Check the code").click()


async def test_a_number_proven_by_its_code_takes_its_free_vote_and_is_refused_a_second(
        light_work_site: str, browser: Browser, settings: Settings, sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=3, free_votes_per_day=1)
    page = await browser.new_page(locale="en-US", viewport={"width": 412, "height": 915})
    page.set_default_timeout(15_000)
    await prove(page, settings, light_work_site, contest)
    await page.locator("#candidate").select_option("02")
    await page.get_by_role("button", name="Cast my free vote").click()
    await expect(page.locator("#free-done")).to_have_text(
        "Your free vote for 02 Candidate 02 is counted. Free votes left: 0.")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "free-vote-page.png"), full_page=True)



async def test_a_number_that_took_its_free_vote_is_refused_in_the_pages_language(
        light_work_site: str, browser: Browser, settings: Settings, sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=3, free_votes_per_day=1)
    await take_free_vote(sessions, FreeVoteRequest(contest.slug, "01", PHONE, "ussd"))  # taken by USSD this morning
    page = await browser.new_page(locale="en-US", viewport={"width": 412, "height": 915})
    page.set_default_timeout(15_000)
    await prove(page, settings, light_work_site, contest)
    await page.get_by_role("button", name="Cast my free vote").click()
    await expect(page.locator("#free-error")).to_have_text(
        "This number has taken its free votes; come back later or vote by mobile money.")
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(FreeVote)) == 1


async def test_a_number_asking_a_second_code_within_the_minute_is_told_so_in_the_pages_language(
        light_work_site: str, browser: Browser, redis: Redis, sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=3, free_votes_per_day=1)
    # A code texted to the number a moment ago, from another phone's page.
    await new_code(redis, PHONE, "free_vote", "41.202.1.9", per_day=100, scope=f"contest:{contest.id}")
    page = await browser.new_page(locale="fr-FR", viewport={"width": 412, "height": 915})
    page.set_default_timeout(15_000)
    await page.goto(f"{light_work_site}/c/{contest.slug}/free-vote?lang=fr")
    await page.locator("#msisdn").fill(PHONE)
    await page.locator("#phone-form button[type=submit]").click()
    await expect(page.locator("#free-error")).to_have_text(
        "Trop de codes ont été demandés ; attendez une minute et réessayez.")


async def test_a_number_past_the_contest_s_votes_a_minute_is_told_so_in_the_pages_language(
        light_work_site: str, browser: Browser, settings: Settings, sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=3, free_votes_per_day=3, max_orders_per_minute=1)
    await take_free_vote(sessions, FreeVoteRequest(contest.slug, "01", PHONE, "ussd"))  # by USSD, a moment ago
    page = await browser.new_page(locale="fr-FR", viewport={"width": 412, "height": 915})
    page.set_default_timeout(15_000)
    await page.goto(f"{light_work_site}/c/{contest.slug}/free-vote?lang=fr")
    await page.locator("#msisdn").fill(PHONE)
    await page.locator("#phone-form button[type=submit]").click()
    await page.locator("#code").fill(await texted_code(settings, page, PHONE))
    await page.locator("#check-code").click()
    await page.locator("#free-form button[type=submit]").click()
    await expect(page.locator("#free-error")).to_have_text("Trop de votes depuis ce numéro. Réessayez plus tard.")
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(FreeVote)) == 1


async def test_a_contest_giving_no_free_vote_has_no_form(light_work_site: str, browser: Browser,
                                                         sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    page = await browser.new_page(locale="fr-FR")
    answer = await page.goto(f"{light_work_site}/c/{contest.slug}/free-vote?lang=fr")
    assert answer is not None and answer.status == 404
    await expect(page.locator("main")).to_contain_text("Ce concours ne donne pas de vote gratuit en ce moment.")
