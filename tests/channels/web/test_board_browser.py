"""The live board in a real browser (Debian's Chromium, headless, driven by Playwright): a frame from the stream
slides the row that overtook to its new place and moves the bars to their new lengths; with reduced motion the
rows and bars jump there instead; the monogram tiles read at WCAG AA contrast as the browser paints them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect
from redis.asyncio import Redis

from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.db.engine import Sessions
from gateway.db.models import Contest
from tests.channels.web.test_board_page import contrast
from tests.chromium import ARTIFACTS, CHROMIUM, until_true
from tests.factories import make_contest
from tests.leaderboard.helpers import vote_and_publish
from tests.servers import free_port

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (`make test` installs it)")

# Every row's slide (the transform it starts from) and every bar's growth, as the page runs them.
WATCH = """() => {
  window.moves = [];
  window.grown = [];  // the rows whose bar ran a transition to its new length
  document.getElementById('board-list').addEventListener('transitionrun', function (event) {
    if (event.propertyName === 'width') { window.grown.push(event.target.closest('.row').getAttribute('data-code')); }
  });
  new MutationObserver(function (changes) {
    changes.forEach(function (change) {  // a slide is set and cleared in one go: its trace is the old value
      var slide = /translateY\\([^)]*\\)/.exec(change.oldValue || '');
      if (slide && change.target.classList.contains('row')) {
        window.moves.push(change.target.getAttribute('data-code') + ' ' + slide[0]);
      }
    });
  }).observe(document.getElementById('board-list'),
             { attributes: true, attributeOldValue: true, subtree: true, attributeFilter: ['style'] });
}"""


@pytest.fixture
async def site(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[str]:
    port = free_port()
    async with TestServer(create_app(settings), port=port):
        yield f"http://127.0.0.1:{port}"


async def gala(sessions: Sessions, redis: Redis) -> Contest:
    """Three candidates: 01 with 3 votes and 02 with 1 (75% and 25%), 03 with none yet."""
    contest = await make_contest(sessions, slug="gala", name="Gala 2026", candidates=3)
    await vote_and_publish(sessions, redis, contest, "01", 3)
    await vote_and_publish(sessions, redis, contest, "02", 1)
    return contest


async def live_board(browser: Browser, url: str, reduced_motion: bool = False) -> Page:
    page = await browser.new_page(locale="en-US", viewport={"width": 412, "height": 915},
                                  reduced_motion="reduce" if reduced_motion else "no-preference")
    page.set_default_timeout(10_000)
    await page.goto(f"{url}/c/gala?lang=en")
    await expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    await page.evaluate(WATCH)
    return page


async def codes(page: Page) -> list[str]:
    return await page.locator("#board-list li").evaluate_all("rows => rows.map(r => r.getAttribute('data-code'))")


async def bar_fraction(page: Page, code: str) -> float:
    """How much of its track a row's bar fills, as painted."""
    return float(await page.locator(f'#board-list li[data-code="{code}"] .bar').evaluate(
        "bar => bar.querySelector('.fill').getBoundingClientRect().width / bar.getBoundingClientRect().width"))


async def test_a_frame_slides_the_overtaking_row_up_and_moves_the_bars(site: str, browser: Browser,
                                                                       sessions: Sessions, redis: Redis) -> None:
    contest = await gala(sessions, redis)
    page = await live_board(browser, site)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    assert await codes(page) == ["01", "02", "03"]
    third = page.locator('#board-list li[data-code="03"]')
    await expect(third.locator(".share")).to_have_text("0%")
    assert abs(await bar_fraction(page, "01") - 0.75) < 0.02

    await vote_and_publish(sessions, redis, contest, "03", 6)  # 6 of 10 votes: 03 leads

    await expect(page.locator("#board-list li").first).to_have_attribute("data-code", "03")
    assert await codes(page) == ["03", "01", "02"]
    await expect(third.locator(".share")).to_have_text("60%")
    await expect(third.locator(".votes")).to_have_text("6 votes")
    await expect(third.locator(".rank-n")).to_have_text("1")
    await expect(page.locator('#board-list li[data-code="01"] .share')).to_have_text("30%")
    moves = await page.evaluate("window.moves")
    assert any(re.fullmatch(r"03 translateY\(\d+(\.\d+)?px\)", move) for move in moves), moves  # slid up
    assert any(re.fullmatch(r"01 translateY\(-\d+(\.\d+)?px\)", move) for move in moves), moves  # and 01 down
    # A row whose figures changed after a forced style (03's vote count bumps it) starts its bar a frame before
    # the others, so their transitions are announced a frame later: on a loaded machine, after the texts above.
    await until_true(page, "['03', '01', '02'].every(code => window.grown.includes(code))", timeout=5)
    await until_true(page, """Array.from(document.querySelectorAll('#board-list .row'))
        .every(r => !r.style.transform && r.getAnimations({ subtree: true }).length === 0)""")
    assert abs(await bar_fraction(page, "03") - 0.6) < 0.02 and abs(await bar_fraction(page, "01") - 0.3) < 0.02
    await expect(page.locator("#board-news")).to_have_text("Candidate 03 is now in first place.")
    await expect(page.locator("#board-total")).to_have_text("10 votes in total")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.locator("#board").screenshot(path=str(ARTIFACTS / "live-board.png"))
    assert not problems, problems


async def test_with_reduced_motion_rows_and_bars_jump_to_their_places(site: str, browser: Browser,
                                                                      sessions: Sessions, redis: Redis) -> None:
    contest = await gala(sessions, redis)
    page = await live_board(browser, site, reduced_motion=True)
    await vote_and_publish(sessions, redis, contest, "03", 6)
    await expect(page.locator("#board-list li").first).to_have_attribute("data-code", "03")
    # At once: no transition runs, the bar is at its length the moment the row is in place.
    assert abs(await bar_fraction(page, "03") - 0.6) < 0.02
    await two_frames(page)  # a transition started with the frame would be running and announced by now
    assert await page.evaluate("document.getAnimations().length") == 0
    assert await page.evaluate("window.moves") == [] and await page.evaluate("window.grown") == []


async def two_frames(page: Page) -> None:
    await page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def rgb(css: str) -> str:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css)[:3])
    return f"#{red:02x}{green:02x}{blue:02x}"


async def test_the_monograms_read_at_aa_contrast_as_painted(site: str, browser: Browser, sessions: Sessions,
                                                           redis: Redis) -> None:
    await gala(sessions, redis)
    page = await browser.new_page(locale="en-US")
    await page.goto(f"{site}/c/gala?lang=en")
    tiles = await page.locator(".mono").evaluate_all("""tiles => tiles.map(t => {
        var style = getComputedStyle(t); return [t.textContent, style.color, style.backgroundColor]; })""")
    assert len(tiles) == 9  # three candidates: their tiles in the list, the vote form and the board
    for text, colour, background in tiles:
        assert text == "C0" and contrast(rgb(colour), rgb(background)) >= 4.5, (colour, background)
