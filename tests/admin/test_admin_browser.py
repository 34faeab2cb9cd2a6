"""The organiser's side in a real browser (Debian's Chromium, headless, driven by Playwright): first
sign-in with password and TOTP (the code computed here, as an authenticator app would), a contest with
three candidates created and opened from the forms (each with its clip's and photo's pages: sending them,
tests/media/test_clip_replace_browser.py), a vote cast through the USSD path, the order found in the admin list.
A screenshot of each page goes to tests/artifacts/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.web.keys import STARTS
from gateway.db.engine import Sessions
from tests.admin.accounts import PASSWORD, make_account
from tests.chromium import ARTIFACTS, CHROMIUM
from tests.servers import free_port

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (`make test` installs it)")


@pytest.fixture
async def site(clean: None, settings: Settings) -> AsyncIterator[str]:
    port = free_port()
    app = create_app(settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{port}"}))
    async with TestServer(app, port=port):
        yield f"http://127.0.0.1:{port}"
        await app[STARTS].close(grace=0)  # no provider listens: the USSD vote's prompt is dropped


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"admin-{name}.png"), full_page=True)


async def ussd_vote(base: str, service_code: str) -> str:
    """Dial like a phone: vote, candidate 01, 2 votes, then the first choice until the session ends."""
    text, reply = "", ""
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        for step in ["", "1", "01", "2", "1", "1", "1"]:
            text = step if not text and step else f"{text}*{step}" if step else text
            reply = (await http.post("/ussd/africastalking", data={
                "sessionId": "ATUid_browser", "serviceCode": service_code, "phoneNumber": "+237670000001",
                "networkCode": "62401", "text": text})).text
            if reply.startswith("END"):
                break
    return reply


async def test_an_organiser_sets_up_a_contest_in_the_browser_and_finds_its_first_vote(
        site: str, browser: Browser, sessions: Sessions) -> None:
    account = await make_account(sessions, "organiser", enrolled=False)
    page = await browser.new_page(viewport={"width": 412, "height": 915})  # a phone
    page.set_default_timeout(10_000)

    await page.goto(f"{site}/admin/contests")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Email").fill(account.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await shot(page, "01-sign-in")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator(".qr svg")).to_be_visible()
    await shot(page, "02-totp-enrolment")
    await page.get_by_label("Code").fill(account.code())
    await page.get_by_role("button", name="Confirm").click()
    await expect(page.get_by_role("heading", name="Contests")).to_be_visible()

    await page.get_by_role("link", name="New contest").click()
    await page.get_by_label("Name").fill("Browser Gala")
    await page.get_by_label("Slug").fill("browser-gala")
    # The times are typed on the contest's clock, its time zone's (the form's default for a new contest).
    zone = ZoneInfo(await page.get_by_label("Time zone (the times below are on its clock)").input_value())
    now = datetime.now(zone)
    await page.get_by_label("Voting opens").fill((now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_label("Voting closes").fill((now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_label("USSD service codes").fill("*384*555#")
    await shot(page, "03-new-contest")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#status")).to_have_text("draft")

    for name in ("Awa Mbarga", "Ben Tchoua"):
        await page.get_by_label("Name", exact=True).fill(name)
        await page.get_by_role("button", name="Add").click()
    await page.get_by_label("Paste the CSV").fill("name,bio\nChloe Essomba,dancer\n")
    await page.get_by_role("button", name="Import").click()
    await expect(page.get_by_text("1 candidates imported.")).to_be_visible()
    await expect(page.get_by_role("link", name="Photo", exact=True)).to_have_count(3)
    await shot(page, "04-candidates")
    await page.get_by_role("button", name="Open").click()
    await expect(page.locator("#status")).to_have_text("open")
    await shot(page, "05-opened")

    assert (await ussd_vote(site, "*384*555#")).startswith("END")
    await page.get_by_role("link", name="Orders").click()
    await page.get_by_label("Payer number").fill("+237670000001")
    await page.get_by_role("button", name="Search").click()
    rows = page.locator("table tr", has_text="browser-gala")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("ussd")
    await shot(page, "06-orders")
    await rows.first.get_by_role("link").click()
    await expect(page.get_by_role("heading", name="Provider events")).to_be_visible()
    await shot(page, "07-order")
