"""The dashboard of the demo contest with votes in it, in a real browser (Debian's Chromium, headless): an
owner signs in with password and TOTP, opens it on a phone-sized screen, sees the charts, the invariant
holding and the figures live; the numbers behind a chart open with one click. Screenshot in tests/artifacts/."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from assembly.machine.demo import seed_demo
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.db.models import Contest
from tests.admin.accounts import PASSWORD, make_account
from tests.admin.test_admin_browser import shot, site  # noqa: F401  (site: a fixture)
from tests.channel_names import Channel
from tests.factories import place


async def demo_with_votes(sessions: Sessions) -> Contest:
    """The demo contest with ten paid votes: 3 by USSD and 2 on the web for 01, 5 by SMS for 02."""
    demo = await seed_demo(sessions)
    for index, (code, quantity, channel) in enumerate([("01", 3, Channel.USSD), ("02", 5, Channel.SMS),
                                                       ("01", 2, Channel.WEB)]):
        order = await place(sessions, demo, code, quantity, channel=channel, msisdn=f"+23767000010{index}")
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, f"t{index}",
                                       provider="mtn")
    return demo


async def owner_on_a_phone(browser: Browser, sessions: Sessions, url: str) -> Page:
    """A new owner's browser on a phone-sized screen, signed in at `url` (the sign-in page it sends them to)."""
    owner = await make_account(sessions, "owner")
    page = await browser.new_page(viewport={"width": 412, "height": 915})
    page.set_default_timeout(10_000)
    await page.goto(url)
    await page.get_by_label("Email").fill(owner.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("Code from your authenticator app").fill(owner.code())
    await page.get_by_role("button", name="Sign in").click()
    return page


async def test_an_owner_opens_the_demo_contests_dashboard_with_votes_in_it(
        site: str, browser: Browser, sessions: Sessions) -> None:  # noqa: F811
    demo = await demo_with_votes(sessions)
    await place(sessions, demo, "02", 1, msisdn="+237690000200")  # still pending
    page = await owner_on_a_phone(browser, sessions, f"{site}/admin/contests/{demo.id}/dashboard")
    await page.goto(f"{site}/admin/contests/{demo.id}/dashboard")
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    await expect(page.locator("#live")).to_have_text("live")  # the SSE stream answered and the script ran
    await expect(page.get_by_text("Every tally equals its paid votes.")).to_be_visible()
    await expect(page.locator("svg[aria-label='Votes by channel']")).to_be_visible()
    await page.locator("#t-channel summary").click()
    table = page.locator("#t-channel table")
    await expect(table.locator("tr", has_text="sms")).to_contain_text("5")
    await expect(table.locator("tr", has_text="ussd")).to_contain_text("3")
    await shot(page, "08-dashboard")
