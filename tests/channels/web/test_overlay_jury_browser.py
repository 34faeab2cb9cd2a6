"""The overlay of a contest decided by the public and a jury in a real browser: the formula under the title, and once
the organiser reveals the jury's points, the stream's next board redraws the rows in the blend's order with each
candidate's parts and blended score, as the server draws them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser
from redis.asyncio import Redis

from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.core.audit import Actor
from gateway.core.contests import jury
from gateway.db.engine import Sessions
from gateway.db.models import Contest
from leaderboard.cache import touch
from tests.admin.accounts import make_account
from tests.channels.web.test_overlay_browser import overlay_page
from tests.chromium import CHROMIUM, until_true
from tests.factories import RULES_OFF, make_contest
from tests.leaderboard.helpers import vote_and_publish
from tests.servers import free_port

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (`make test` installs it)")
OWNER = Actor(None, "owner@example.com", "owner")
ROWS = "Array.from(document.querySelectorAll('#overlay-rows .row')).map(r => r.innerText.replace(/\\s+/g, ' '))"


@pytest.fixture
async def judged(clean: None, settings: Settings, sessions: Sessions,
                 redis: Redis) -> AsyncIterator[tuple[str, Contest]]:
    """The app on a real port; a contest half public, half jury, with votes and a juror's sealed points."""
    port = free_port()
    async with TestServer(create_app(settings), port=port):
        contest = await make_contest(sessions, candidates=2, slug="duo", fraud_rules=RULES_OFF, public_weight_pct=50)
        await vote_and_publish(sessions, redis, contest, "01", 3)
        await vote_and_publish(sessions, redis, contest, "02", 1)
        account = await make_account(sessions, "jury")
        await jury.seat_juror(sessions, OWNER, contest.id, account.email)
        await jury.score(sessions, Actor(account.id, account.email, "jury"), contest.id, {"01": 0, "02": 10})
        yield f"http://127.0.0.1:{port}", contest


async def test_the_overlay_redraws_the_blend_once_the_jury_is_revealed(
        judged: tuple[str, Contest], browser: Browser, sessions: Sessions, redis: Redis) -> None:
    url, contest = judged
    page, problems = await overlay_page(browser)
    await page.goto(f"{url}/c/duo/overlay?lang=en")
    await until_true(page, "window.ballotOverlay && window.ballotOverlay.draws.length > 0")
    assert await page.inner_text("#overlay-formula") == "Result: 50% public + 50% jury"
    assert [row.split(" ")[2] for row in await page.evaluate(ROWS)] == ["01", "02"]

    await jury.reveal(sessions, OWNER, contest.id, confirmed=True)
    for _ in range(30):  # the board announced again; the process takes the reveal within its contest's TTL
        await touch(redis, contest.id)
        try:
            await until_true(page, "document.querySelector('#overlay-rows .row .votes').innerText.includes('Jury')",
                             timeout=0.5)
            break
        except AssertionError:
            continue
    # 01: 3 votes of 4 (75%), no point -> 37.5%; 02: 25% and every point -> 62.5%.
    await until_true(page, f"{ROWS}.join('|') === 'No. 1 02 Candidate 02 Public 25.0% · Jury 100.0% 62.5%|"
                           "No. 2 01 Candidate 01 Public 75.0% · Jury 0.0% 37.5%'")
    assert await page.inner_text("#overlay-formula") == "Result: 50% public + 50% jury"
    assert problems == []
