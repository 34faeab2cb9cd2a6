"""The contest form fits its box in French, the longest labels, on a phone (360 px wide) and a desktop (1280 px) in a
real browser (headless Chromium, as tests/admin/test_admin_browser.py): no label, input or select overflows the
element it sits in, and the page never scrolls sideways. A screenshot of each width goes to tests/artifacts/."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from gateway.db.engine import Sessions
from tests.admin.accounts import PASSWORD, make_account
from tests.admin.test_admin_browser import shot, site  # noqa: F401  (site: a fixture)
from tests.factories import make_contest

# Each label, input, select and textarea of the form that sticks out of its parent, by more than a rounding pixel;
# and how far the document is wider than the window.
OVERFLOWS = """() => {
  const out = [];
  const fields = 'main form label, main form input:not([type=hidden]), main form select, main form textarea';
  for (const el of document.querySelectorAll(fields)) {
    if (el.offsetParent === null) continue;  // folded away: nothing to see
    const box = el.getBoundingClientRect(), parent = el.parentElement.getBoundingClientRect();
    const cut = el.tagName === 'LABEL' && el.scrollWidth > el.clientWidth + 1;
    if (box.right > parent.right + 1 || box.left < parent.left - 1 || cut)
      out.push(`${el.tagName} ${el.id || el.name}: ${Math.round(box.right - parent.right)}px`);
  }
  return {out, sideways: document.documentElement.scrollWidth - window.innerWidth};
}"""


@pytest.mark.parametrize("width", [360, 1280])
async def test_the_contest_form_fits_in_french_on_a_phone_and_a_desktop(
        site: str, browser: Browser, sessions: Sessions, width: int) -> None:  # noqa: F811
    contest = await make_contest(sessions, candidates=2, name="Nuit des Étoiles", slug="nuit-des-etoiles")
    account = await make_account(sessions, "owner")
    page = await browser.new_page(viewport={"width": width, "height": 900}, locale="fr-FR")
    page.set_default_timeout(10_000)
    await page.goto(f"{site}/admin/signin?lang=fr")
    await page.get_by_label("E-mail").fill(account.email)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_label("Code de votre application").fill(account.code())
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.get_by_role("heading", name="Concours")).to_be_visible()
    for path in ("/admin/contests/new?lang=fr", "/admin/contests/new?lang=fr&country=KE",
                 f"/admin/contests/{contest.id}/edit?lang=fr"):
        await page.goto(site + path)
        await expect(page.locator("main form").first).to_be_visible()
        found = await page.evaluate(OVERFLOWS)
        name = path.split("?")[0].rsplit("/", 1)[1] + ("-ke" if "KE" in path else "")
        await shot(page, f"contest-form-fr-{width}-{name}")
        assert found == {"out": [], "sideways": 0}, path
