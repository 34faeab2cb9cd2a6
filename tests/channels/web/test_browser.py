"""The contest page in a real browser (Debian's Chromium, headless, driven by Playwright): the board,
a vote paid with a normal MTN number through the local sandbox, and the board moving without a reload.
Also the same vote with JavaScript off: a plain form post and a self-refreshing status page."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from assembly.machine.demo import seed_demo
from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.db.engine import Sessions
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.chromium import ARTIFACTS, CHROMIUM
from tests.servers import free_port

NORMAL_MTN = "+237670000001"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (`make test` installs it)")


@dataclass
class Site:
    url: str
    app: web.Application


@pytest.fixture
async def site(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[Site]:
    """The app on a real port (PUBLIC_BASE_URL pointing at it, for the MTN callback), the sandbox, the demo contest."""
    async with TestServer(create_sandbox_app(SandboxControl(success_delay=0.5))) as sandbox:
        port = free_port()
        app_settings = settings.model_copy(update={
            "public_base_url": f"http://127.0.0.1:{port}", "sandbox_url": str(sandbox.make_url("")).rstrip("/")})
        async with TestServer(create_app(app_settings), port=port) as server:
            await seed_demo(sessions)
            yield Site(f"http://127.0.0.1:{port}", server.app)


async def fill_vote(page: Page, quantity: int) -> None:
    """The form as a voter fills it: by the labels they read."""
    await page.get_by_label("Grace Ndongo").check()
    await page.get_by_label("Number of votes").fill(str(quantity))
    await page.get_by_label("MTN Mobile Money").check()
    await page.get_by_label("Mobile money number").fill(NORMAL_MTN)
    await page.get_by_role("button", name="Vote and pay").click()


async def test_a_vote_moves_the_live_board_without_a_reload(site: Site, browser: Browser) -> None:
    page = await browser.new_page(locale="en-US", viewport={"width": 412, "height": 915})
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    await page.goto(f"{site.url}/c/demo?lang=en")

    grace = page.locator('#board-list li[data-code="07"]')
    await expect(grace.locator(".votes")).to_have_text("0 votes")
    await expect(page.locator("#live-state")).to_be_visible()
    await page.evaluate("window.sameDocument = true")
    await fill_vote(page, quantity=5)

    await expect(page.locator("#order-panel")).to_contain_text("Approve on your phone")
    await expect(grace.locator(".votes")).to_have_text("5 votes", timeout=15_000)
    await expect(page.locator("#board-list li").first).to_have_attribute("data-code", "07")
    await expect(page.locator("#order-panel")).to_contain_text("Thank you! Your vote counts.")
    assert await page.evaluate("window.sameDocument") is True, "the page was reloaded"
    mode = await page.evaluate("window.ballotBoard.mode()")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "contest-page.png"), full_page=True)
    (ARTIFACTS / "contest-page.json").write_text(json.dumps({"board_updated_by": mode}) + "\n")
    assert mode in ("live", "polling", "server-board")
    assert not [p for p in problems if "leaderboard" not in p], problems  # a missing board API may 404


async def test_without_javascript_the_form_posts_and_the_status_page_refreshes(site: Site, browser: Browser) -> None:
    context = await browser.new_context(java_script_enabled=False, locale="en-US")
    page = await context.new_page()
    page.set_default_timeout(10_000)
    await page.goto(f"{site.url}/c/demo?lang=en")
    await expect(page.locator('#board-list li[data-code="07"] .votes')).to_have_text("0 votes")
    await fill_vote(page, quantity=2)
    await expect(page).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    await expect(page.get_by_role("heading", name="Approve on your phone")).to_be_visible()
    await expect(page.get_by_role("heading", name="Thank you! Your vote counts.")).to_be_visible(timeout=15_000)
    await context.close()


async def test_without_the_board_api_the_page_falls_back_to_the_server_rendered_board(
        site: Site, browser: Browser) -> None:
    page = await browser.new_page(locale="en-US")
    page.set_default_timeout(10_000)
    await page.route("**/leaderboard**", lambda route: route.fulfill(status=404, body="not here"))
    await page.goto(f"{site.url}/c/demo?lang=en")
    await fill_vote(page, quantity=3)
    await expect(page.locator('#board-list li[data-code="07"] .votes')).to_have_text("3 votes", timeout=15_000)
    assert await page.evaluate("window.ballotBoard.mode()") == "server-board"
    await expect(page.locator("#live-state")).to_have_attribute("data-state", "polling")
