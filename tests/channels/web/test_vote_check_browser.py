"""A voter looks up the reference on their receipt on the public page, in a real browser (Debian's Chromium,
headless, driven by Playwright); the page is saved in tests/artifacts/."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect
from sqlalchemy import select

from assembly.machine.demo import seed_demo
from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.core.orders import counting
from gateway.core.results import ledger
from gateway.db.engine import Sessions
from gateway.db.models import Contest
from tests.chromium import ARTIFACTS
from tests.factories import place
from tests.servers import free_port


@pytest.fixture
async def site(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[str]:
    port = free_port()
    async with TestServer(create_app(settings), port=port):
        await seed_demo(sessions)
        yield f"http://127.0.0.1:{port}"


async def test_a_voter_finds_their_counted_vote_and_its_ledger_entry_by_the_receipt_reference(
        site: str, browser: Browser, sessions: Sessions) -> None:
    async with sessions() as session:
        demo = (await session.scalars(select(Contest).where(Contest.slug == "demo"))).one()
    order = await place(sessions, demo, "07", quantity=5, msisdn="+237670000001")
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, "MTN-1",
                                   provider=order.provider)
    async with sessions.begin() as session:
        checkpoint = await ledger.take_checkpoint(session, demo.id, "hourly")

    page = await browser.new_page(locale="en-US", viewport={"width": 412, "height": 915})
    page.set_default_timeout(10_000)
    await page.goto(f"{site}/c/demo?lang=en")
    await page.get_by_role("link", name="Check that your vote counted").click()
    await page.get_by_label("Reference on the receipt").fill(order.id.hex[:8].upper())
    await page.get_by_role("button", name="Check").click()

    await expect(page.locator("#verify-result")).to_contain_text("Your vote counted.")
    await expect(page.locator(".ledger-entries")).to_contain_text("Entry no. 1: counted, 5 votes")
    await expect(page.get_by_text("Covered by the checkpoint of")).to_contain_text(checkpoint.head_hash.hex()[:16])
    await expect(page.locator("main")).to_contain_text("+2376*****001")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "verify-page.png"), full_page=True)
