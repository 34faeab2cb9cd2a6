"""A producer's countdown to the close, in a real browser: the overlay and the contest page, open on a round's lines,
count the last minute down on their own clocks once the close is given from the control room's API, and say the
lines are closed when it ends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser

from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.core.contests import rounds
from gateway.db.engine import Sessions
from gateway.db.models import Contest
from tests.admin.accounts import api_tokens, bearer, make_account
from tests.channels.web.test_overlay_browser import overlay_page
from tests.chromium import CHROMIUM, until_true
from tests.servers import free_port
from tests.show_rounds import OWNER, a_show

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (`make test` installs it)")


@pytest.fixture
async def on_air(clean: None, settings: Settings,
                 sessions: Sessions) -> AsyncIterator[tuple[str, Contest, TestClient]]:
    """The app on a real port (the browser's), with a client of it (the producer's), and a show's first round open."""
    port = free_port()
    async with TestClient(TestServer(create_app(settings), port=port)) as client:
        contest, _ = await a_show(sessions)
        await rounds.open_round(sessions, OWNER, contest.id, 1)
        yield f"http://127.0.0.1:{port}", contest, client


async def test_the_overlay_and_the_page_count_the_close_down(on_air: tuple[str, Contest, TestClient],
                                                            browser: Browser, sessions: Sessions) -> None:
    url, contest, client = on_air
    overlay, problems = await overlay_page(browser)
    await overlay.goto(f"{url}/c/{contest.slug}/overlay?lang=en")
    await until_true(overlay, "window.ballotOverlay && window.ballotOverlay.draws.length > 0")
    page = await browser.new_page()
    await page.goto(f"{url}/c/{contest.slug}?lang=fr")
    await until_true(page, "document.getElementById('live-state').getAttribute('data-state') === 'live'")
    assert await overlay.is_hidden("#overlay-countdown") and await page.is_hidden("#lines-countdown")

    producer = bearer(await api_tokens(client, await make_account(sessions, "owner", "producer@example.com")))
    closed = await client.post(f"/api/v1/admin/contests/{contest.id}/lines/close", json={"countdown_seconds": 3},
                               headers=producer)
    assert closed.status == 200
    await until_true(overlay, "/^Lines close in 0:0[1-3]$/.test("
                              "document.getElementById('overlay-countdown').innerText)")
    await until_true(page, "/0:0[1-3]/.test(document.getElementById('lines-countdown').innerText)")
    await until_true(overlay, "document.getElementById('overlay-countdown').innerText === 'Lines are closed'",
                     timeout=8)
    await until_true(page, "document.getElementById('lines-countdown').innerText !== ''"
                           " && !/[0-9]/.test(document.getElementById('lines-countdown').innerText)", timeout=8)
    assert problems == []
