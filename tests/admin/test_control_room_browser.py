"""The control room in a real browser (Debian's Chromium, headless): an owner signs in, opens it on a phone
(412 px) and on a desk, sees the charts and the alerts live, with nothing wider than the phone's screen.
Screenshots in tests/artifacts/."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from assembly.demo import seed_demo
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from tests.admin.accounts import PASSWORD, make_account
from tests.admin.test_admin_browser import shot, site  # noqa: F401  (site: a fixture)
from tests.channel_names import Channel
from tests.factories import place


async def test_an_owner_watches_the_control_room_on_a_phone_and_a_desk(
        site: str, browser: Browser, sessions: Sessions) -> None:  # noqa: F811
    demo = await seed_demo(sessions)
    for index, (code, quantity, channel) in enumerate([("01", 3, Channel.USSD), ("02", 5, Channel.SMS),
                                                       ("01", 2, Channel.WEB)]):
        order = await place(sessions, demo, code, quantity, channel=channel, msisdn=f"+23767000010{index}")
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, f"t{index}",
                                       provider="mtn")
    owner = await make_account(sessions, "owner")
    page = await browser.new_page(viewport={"width": 412, "height": 915})  # a phone
    page.set_default_timeout(10_000)

    await page.goto(f"{site}/admin/control")
    await page.get_by_label("Email").fill(owner.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("Code from your authenticator app").fill(owner.code())
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("link", name="Control room").click()  # from the nav
    await expect(page.get_by_role("heading", name="Control room")).to_be_visible()
    await expect(page.locator("#live")).to_have_text("live")  # the SSE stream answered and the script ran
    await expect(page.locator("#votes-per-second")).to_have_text(f"{10 / 300:.2f}")
    await expect(page.locator("svg[aria-label='Votes a second by channel']")).to_be_visible()
    await expect(page.locator("svg[aria-label='Votes a minute']")).to_be_visible()
    # No worker runs the periodic passes here: the relay's silence is an alert that fires.
    await expect(page.locator("li[data-alert='ReconcilerOrRelaySilent:relay']")).to_have_attribute(
        "data-firing", "yes")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 412  # nothing to scroll sideways
    await shot(page, "14-control-room-phone")
    await page.set_viewport_size({"width": 1366, "height": 900})  # a desk
    await expect(page.locator("svg[aria-label='Votes a second by provider']")).to_be_visible()
    await shot(page, "15-control-room-desk")
