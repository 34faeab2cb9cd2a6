"""The contest page on a narrow phone in a real browser (Debian's Chromium): long names wrap between words or are cut
with an ellipsis, never broken inside a word, on the cards, in the form and on the board; the live ranking is on the
first screen, above the candidates' cards; a tap on a card leads to the form with that candidate alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect
from sqlalchemy import update

from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.db.engine import Sessions
from gateway.db.models import Candidate
from tests.chromium import ARTIFACTS, CHROMIUM
from tests.factories import make_contest
from tests.servers import free_port

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (`make test` installs it)")
PHONE = {"width": 360, "height": 740}
LONG_NAMES = ("Marie-Claire Wolfeschlegelsteinhausenbergerdorff Ngono", "Jean-Baptiste Nkongolo Mbarga Essomba",
              "Aïssatou Bouba-Ndjidda", "Emmanuel Tchoungui-Akoa Nyemeck Biloa", "Li")

# Every whitespace-separated word of the elements named by the selector, with the number of line boxes it is drawn
# in: 1 when it stays whole (an ellipsis cuts it at the end of its line but keeps it on one), 2 or more when broken.
WORD_LINES = """selector => {
  const found = [];
  for (const element of document.querySelectorAll(selector)) {
    if (!element.getClientRects().length) continue;  // not drawn (a hidden form, a closed notice)
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        found.push([match[0], lines.size]);
      }
    }
  }
  return found;
}"""


@pytest.fixture
async def site(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[str]:
    port = free_port()
    async with TestServer(create_app(settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{port}"})),
                          port=port):
        contest = await make_contest(sessions, slug="gala", name="Grande Finale Interrégionale-Camerounaise 2026",
                                     candidates=len(LONG_NAMES))
        async with sessions.begin() as session:
            for number, name in enumerate(LONG_NAMES, start=1):
                await session.execute(update(Candidate).where(Candidate.contest_id == contest.id,
                                                              Candidate.code == f"0{number}").values(name=name))
        yield f"http://127.0.0.1:{port}"


async def phone_page(browser: Browser, javascript: bool = True) -> Page:
    page = await browser.new_page(viewport=PHONE, locale="en-US", java_script_enabled=javascript)
    page.set_default_timeout(10_000)
    return page


async def broken_words(page: Page) -> list[tuple[str, int]]:
    words = await page.evaluate(WORD_LINES, "h1, .cand-name, .row .name")
    assert any(word == "Wolfeschlegelsteinhausenbergerdorff" for word, _ in words)  # the long one was looked at
    return [(word, lines) for word, lines in words if lines != 1]


async def test_long_names_wrap_between_words_never_inside_one(site: str, browser: Browser) -> None:
    page = await phone_page(browser)
    await page.goto(f"{site}/c/gala?lang=en")
    await expect(page.locator("#board-list li")).to_have_count(len(LONG_NAMES))
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "contest-cards.png"), full_page=True)
    assert await broken_words(page) == []
    await page.goto(f"{site}/c/gala?candidate=01&lang=en#vote")  # the form with the longest name alone
    assert await broken_words(page) == []


async def test_the_ranking_is_on_the_first_screen_above_the_cards_and_a_card_starts_the_vote(
        site: str, browser: Browser) -> None:
    page = await phone_page(browser, javascript=False)  # the plain link does it all
    await page.goto(f"{site}/c/gala?lang=en")
    board, cards = await page.locator("#board").bounding_box(), await page.locator(".cand-list").bounding_box()
    assert board is not None and cards is not None
    assert board["y"] < cards["y"] and board["y"] < PHONE["height"] / 2  # who leads, without scrolling
    await page.locator('.cand-card[data-code="04"] .card-vote').click()
    await expect(page).to_have_url(f"{site}/c/gala?candidate=04#vote")
    chosen = page.locator('input[name="candidate"]')
    await expect(chosen).to_have_count(1)
    await expect(chosen).to_be_checked()
    await expect(chosen).to_have_value("04")
    await expect(page.get_by_label("Number of votes")).to_be_visible()
