"""A voter picks a bundle on the contest page in Chromium: its button fills the number of votes, the total is the
bundle's amount, and the vote paid through the MTN sandbox is counted at that amount."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select, update

from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus, VoteOrder
from tests.channels.web.test_browser import NORMAL_MTN, Site, site  # noqa: F401 (the fixture `site`)
from tests.chromium import CHROMIUM

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (`make test` installs it)")


async def test_a_bundles_button_fills_the_votes_and_its_amount_is_paid(
        site: Site, browser: Browser, sessions: Sessions) -> None:  # noqa: F811
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.slug == "demo").values(
            price_tiers=[{"votes": 10, "amount": 900}, {"votes": 50, "amount": 4000}]))
    page = await browser.new_page(locale="en-US", viewport={"width": 412, "height": 915})
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    await page.goto(f"{site.url}/c/demo?lang=en")
    await page.get_by_label("Grace Ndongo").check()
    await page.get_by_role("button", name="10 votes for FCFA\u00a0900").click()
    await expect(page.get_by_label("Number of votes")).to_have_value("10")
    await expect(page.locator("#total")).to_have_text(re.compile(r"^Total: \D*900\D*$"))  # the bundle's amount
    await page.get_by_label("Number of votes").fill("11")
    await expect(page.locator("#total")).to_have_text(re.compile(r"^Total: \D*1.100\D*$"))  # 11 at the vote's price
    await page.get_by_role("button", name="50 votes for FCFA\u00a04,000").click()
    await expect(page.locator("#total")).to_have_text(re.compile(r"^Total: \D*4.000\D*$"))
    await page.get_by_label("MTN Mobile Money").check()
    await page.get_by_label("Mobile money number").fill(NORMAL_MTN)
    await page.get_by_role("button", name="Vote and pay").click()
    await expect(page.locator("#order-panel")).to_contain_text("Thank you! Your vote counts.", timeout=15_000)
    async with sessions() as session:  # the panel thanks the voter once the order is paid
        order = (await session.scalars(select(VoteOrder))).one()
    assert (order.status, order.quantity, order.amount, order.currency) == (OrderStatus.PAID, 50, 4000, "XAF")
    assert not problems, problems
