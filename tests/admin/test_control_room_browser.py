"""The control room in a real browser (Debian's Chromium, headless): an owner signs in, opens it on a phone
(412 px) and on a desk, sees the charts and the alerts live, with nothing wider than the phone's screen.
Screenshots in tests/artifacts/."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from gateway.db.engine import Sessions
from tests.admin.test_admin_browser import shot, site  # noqa: F401  (site: a fixture)
from tests.admin.test_dashboard_browser import demo_with_votes, owner_on_a_phone
from tests.readme_pictures import keep_for_readme


async def test_an_owner_watches_the_control_room_on_a_phone_and_a_desk(
        site: str, browser: Browser, sessions: Sessions) -> None:  # noqa: F811
    await demo_with_votes(sessions)
    page = await owner_on_a_phone(browser, sessions, f"{site}/admin/control")
    await page.get_by_role("link", name="Control room").click()  # from the nav
    await expect(page.get_by_role("heading", name="Control room")).to_be_visible()
    await expect(page.locator("#live")).to_have_text("live")  # the SSE stream answered and the script ran
    await expect(page.locator("#votes-per-second")).to_have_text(f"{10 / 300:.2f}")
    await expect(page.locator("svg[aria-label='Votes a second by channel']")).to_be_visible()
    await expect(page.locator("svg[aria-label='Votes a minute']")).to_be_visible()
    # No worker runs the periodic passes here: no pass is known, an alert pending (for 2 minutes, as its rule's for:)
    # from the first look, and no silent pass of a known age.
    await expect(page.locator("li[data-alert='ReconcilerOrRelayUnknown']")).to_have_attribute("data-state", "pending")
    await expect(page.locator("li[data-alert='PeriodicPassSilent:relay-outbox']")).to_have_attribute(
        "data-firing", "no")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 412  # nothing to scroll sideways
    await shot(page, "14-control-room-phone")
    await page.set_viewport_size({"width": 1366, "height": 900})  # a desk
    await expect(page.locator("svg[aria-label='Votes a second by provider']")).to_be_visible()
    await shot(page, "15-control-room-desk")
    keep_for_readme(await page.screenshot(), "control-room")
