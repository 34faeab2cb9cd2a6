"""The dashboard of the demo contest with votes in it, in a real browser (Debian's Chromium, headless): an
owner signs in with password and TOTP, opens it on a phone-sized screen, sees the charts, the invariant
holding and the figures live; the numbers behind a chart open with one click. Screenshot in tests/artifacts/."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from assembly.demo import seed_demo
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from tests.admin.accounts import PASSWORD, make_account
from tests.admin.test_admin_browser import shot, site  # noqa: F401  (site: a fixture)
from tests.channel_names import Channel
from tests.factories import place


async def test_an_owner_opens_the_demo_contests_dashboard_with_votes_in_it(
        site: str, browser: Browser, sessions: Sessions) -> None:  # noqa: F811
    demo = await seed_demo(sessions)
    for index, (code, quantity, channel) in enumerate([("01", 3, Channel.USSD), ("02", 5, Channel.SMS),
                                                       ("01", 2, Channel.WEB)]):
        order = await place(sessions, demo, code, quantity, channel=channel, msisdn=f"+23767000010{index}")
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, f"t{index}",
                                       provider="mtn")
    await place(sessions, demo, "02", 1, msisdn="+237690000200")  # still pending
    owner = await make_account(sessions, "owner")
    page = await browser.new_page(viewport={"width": 412, "height": 915})  # a phone
    page.set_default_timeout(10_000)

    await page.goto(f"{site}/admin/contests/{demo.id}/dashboard")
    await page.get_by_label("Email").fill(owner.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("Code from your authenticator app").fill(owner.code())
    await page.get_by_role("button", name="Sign in").click()
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
