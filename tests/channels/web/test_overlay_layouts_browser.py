"""The overlay's three layouts in a real browser (Debian's Chromium) at 1920×1080, with twelve rows and long names:
everything drawn stays within the graphics-safe area (1728×972 centred), a dial string or a code line is never cut
over two lines (a line too long is shrunk to fit), and the producer's show/hide and layout, clicked in the control
room, change an overlay already open, by the stream alone. Screenshots in tests/artifacts/."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect
from redis.asyncio import Redis
from sqlalchemy import update

from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.db.engine import Sessions
from gateway.db.models import Candidate
from tests.admin.test_dashboard_browser import owner_on_a_phone
from tests.chromium import ARTIFACTS, CHROMIUM, until_true
from tests.factories import RULES_OFF, make_contest
from tests.leaderboard.helpers import vote_and_publish
from tests.servers import free_port

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (`make test` installs it)")
SIZE = {"width": 1920, "height": 1080}
SAFE = (96, 54, 1824, 1026)  # left, top, right, bottom: 5 % in from each edge
DIAL = "*384*123"  # the contest's USSD code; its line dials it on, with the candidate's code
LONG = "Marie-Claire Wolfeschlegelsteinhausenbergerdorff Ngono Essomba Atangana"

# Every element drawn (a box of some size, visible), with its box when that box leaves the safe area.
OUTSIDE = """([left, top, right, bottom]) => {
  const out = [];
  for (const element of document.querySelectorAll('#overlay, #overlay *')) {
    const style = getComputedStyle(element);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    for (const box of element.getClientRects()) {
      if (!box.width || !box.height) continue;
      if (box.left < left - 0.5 || box.top < top - 0.5 || box.right > right + 0.5 || box.bottom > bottom + 0.5) {
        out.push([element.tagName + '.' + element.className, box.left, box.top, box.right, box.bottom]);
      }
    }
  }
  return out;
}"""
# The lines to vote: each one line box, all of it inside its own box (shrunk to fit, never clipped), and how far apart
# (in line heights) the texts of the dial string (its start to the line's end, the code's slot within) are drawn.
LINES = """dial => [...document.querySelectorAll('#overlay .hint')].map(li => {
  const box = li.getBoundingClientRect(), line = parseFloat(getComputedStyle(li).lineHeight);
  const texts = [], walker = document.createTreeWalker(li, NodeFilter.SHOW_TEXT);
  let inDial = false;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const range = document.createRange(), at = node.data.indexOf(dial);
    range.selectNodeContents(node);
    if (at >= 0) { range.setStart(node, at); inDial = true; }
    texts.push(...[...range.getClientRects()].filter(r => r.width > 0).map(r => ({r, inDial})));
  }
  const mids = texts.filter(t => t.inDial).map(t => (t.r.top + t.r.bottom) / 2);
  return {text: li.textContent, nowrap: getComputedStyle(li).whiteSpace === 'nowrap',
          fits: texts.every(t => t.r.right <= box.right + 1 && t.r.left >= box.left - 1),
          dialSpread: mids.length ? (Math.max(...mids) - Math.min(...mids)) / line : null};
})"""


@pytest.fixture
async def show(clean: None, settings: Settings, sessions: Sessions, redis: Redis) -> AsyncIterator[str]:
    """Twelve candidates with long names, votes for several, and the channels' lines to vote (USSD's dial string,
    SMS's short code and keyword)."""
    port = free_port()
    async with TestServer(create_app(settings.model_copy(update={"public_base_url": "https://vote.example.org"})),
                          port=port):
        contest = await make_contest(sessions, slug="gala", candidates=12, fraud_rules=RULES_OFF,
                                     name="Grande Finale Interrégionale des Talents Camerounais 2026",
                                     ussd_service_codes=[f"{DIAL}#"])
        async with sessions.begin() as session:
            for number in range(1, 13):
                await session.execute(update(Candidate).where(Candidate.contest_id == contest.id,
                                                              Candidate.code == f"{number:02d}")
                                      .values(name=f"{LONG} {number}"))
        for number in range(1, 13):
            await vote_and_publish(sessions, redis, contest, f"{number:02d}", 13 - number)
        yield f"http://127.0.0.1:{port}"


async def open_overlay(browser: Browser, url: str) -> Page:
    page = await browser.new_page(viewport=SIZE)
    page.set_default_timeout(10_000)
    await page.goto(url)
    await until_true(page, "window.ballotOverlay && window.ballotOverlay.cues > 0")  # the stream's first board
    return page


@pytest.mark.parametrize("layout", ["board", "strip", "corner"])
async def test_every_layout_draws_within_the_safe_area_and_keeps_each_line_to_vote_whole(
        show: str, browser: Browser, layout: str) -> None:
    page = await open_overlay(browser, f"{show}/c/gala/overlay?top=12&lang=en&layout={layout}")
    await expect(page.locator("#overlay-rows li")).to_have_count(12)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"overlay-{layout}.png"), omit_background=True)
    assert await page.evaluate(OUTSIDE, list(SAFE)) == []
    lines = await page.evaluate(LINES, DIAL)
    assert len(lines) >= 2 and any(line["dialSpread"] is not None for line in lines), lines  # USSD's and SMS's
    for line in lines:
        assert line["nowrap"] and line["fits"], line
        assert line["dialSpread"] is None or line["dialSpread"] < 0.5, line  # on one line box


async def test_the_control_rooms_show_and_hide_change_an_open_overlay_without_a_reload(
        show: str, browser: Browser, sessions: Sessions) -> None:
    # The overlay has no polling: only the stream's push can change it. How fast it does is a benchmark's figure,
    # not a test's (a machine busy with other work makes any second late).
    overlay = await open_overlay(browser, f"{show}/c/gala/overlay?lang=en")
    stage = overlay.locator("#overlay")
    await expect(stage).to_be_visible()
    room = await owner_on_a_phone(browser, sessions, f"{show}/admin/control")
    await room.goto(f"{show}/admin/control")
    row = room.locator('tr[data-overlay="gala"]')
    await expect(row).to_have_attribute("data-shown", "yes")
    await row.get_by_role("button", name="Hide").click()
    await expect(stage).to_be_hidden()
    await expect(row).to_have_attribute("data-shown", "no")
    await row.get_by_label("Layout").select_option(label="Corner bug")
    await row.get_by_role("button", name="Show").click()
    await expect(stage).to_have_class("overlay stage layout-corner")
    await expect(stage).to_be_visible()
