"""The contest page in a real browser (Debian's Chromium) watching its board through the fan-out server, as a
big audience does: the page served through nginx, the stream from Nchan."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect
from redis.asyncio import Redis

from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.db.engine import Sessions
from gateway.db.models import ContestStatus
from leaderboard.cache import touch
from leaderboard.keys import LEADERBOARD_FANOUT
from tests.chromium import CHROMIUM
from tests.factories import make_contest
from tests.leaderboard.helpers import set_contest, vote_and_publish
from tests.leaderboard.nchan import on_free_ports, publishing_to, running
from tests.servers import free_port
from tests.waiting import until

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (`make test` installs it)")


async def test_a_page_watching_through_the_fanout_server_moves_and_stops_when_its_board_is_withdrawn(
    settings: Settings, sessions: Sessions, redis: Redis, browser: Browser, tmp_path: Path
) -> None:
    app_port = free_port()
    async with running(on_free_ports(f"http://127.0.0.1:{app_port}"), tmp_path / "fanout") as nchan:
        app_settings = settings.model_copy(update={**publishing_to(nchan),
                                                   "public_base_url": nchan.stream_base})
        async with TestServer(create_app(app_settings), port=app_port) as service:
            contest = await make_contest(sessions, candidates=2)
            await vote_and_publish(sessions, redis, contest, "01", 3)
            await until(lambda: service.app[LEADERBOARD_FANOUT].published == 1)
            page = await browser.new_page(locale="en-US")
            page.set_default_timeout(10_000)
            await page.goto(f"{nchan.stream_base}/c/{contest.slug}?lang=en")
            state = page.locator("#live-state")
            await expect(state).to_have_attribute("data-state", "live")
            await vote_and_publish(sessions, redis, contest, "02", 5)
            await expect(page.locator("#board-list li").first).to_have_attribute("data-code", "02")

            await set_contest(sessions, contest, status=ContestStatus.DRAFT)  # the organiser takes it back
            await touch(redis, contest.id)
            await expect(state).not_to_have_attribute("data-state", "live")  # no longer shown as the live count
            assert await page.evaluate("window.ballotBoard.mode()") != "live"
