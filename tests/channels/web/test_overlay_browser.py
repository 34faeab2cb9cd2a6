"""The broadcast overlay in a real browser (Debian's Chromium) at 1920×1080, as OBS's browser source shows it:
transparent around its panels, moving within a second or two of a counted vote, never redrawn more than once a
second however fast frames come, and resuming its stream from the version it shows."""

from __future__ import annotations

import io
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image
from playwright.async_api import Browser, Page, expect
from redis.asyncio import Redis
from yarl import URL

from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.db.engine import Sessions
from gateway.db.models import Contest
from leaderboard.cache import refresh_contest
from tests.chromium import ARTIFACTS, CHROMIUM, until_true
from tests.factories import RULES_OFF, make_contest
from tests.leaderboard.helpers import confirmed_vote, vote_and_publish
from tests.readme_pictures import keep_for_readme
from tests.servers import free_port
from tests.waiting import until

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (`make test` installs it)")
SIZE = {"width": 1920, "height": 1080}


@dataclass
class Show:
    url: str
    contest: Contest


@pytest.fixture
async def show(clean: None, settings: Settings, sessions: Sessions, redis: Redis) -> AsyncIterator[Show]:
    """The app on a real port with a contest that has votes; its public address a show's own, as on air (the QR
    code the same from run to run, and so the README's picture)."""
    port = free_port()
    app_settings = settings.model_copy(update={"public_base_url": "https://vote.example.org"})
    async with TestServer(create_app(app_settings), port=port):
        contest = await make_contest(sessions, slug="gala", name="Gala", fraud_rules=RULES_OFF)
        await vote_and_publish(sessions, redis, contest, "01", 3)
        await vote_and_publish(sessions, redis, contest, "02", 1)
        yield Show(f"http://127.0.0.1:{port}", contest)


async def overlay_page(browser: Browser) -> tuple[Page, list[str]]:
    page = await browser.new_page(viewport=SIZE)
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    return page, problems


async def test_the_overlay_is_transparent_around_its_panels_and_moves_soon_after_a_vote(
        show: Show, browser: Browser, sessions: Sessions, redis: Redis) -> None:
    page, problems = await overlay_page(browser)
    await page.goto(f"{show.url}/c/gala/overlay?top=5&lang=en")
    await until_true(page, "window.ballotOverlay && window.ballotOverlay.draws.length > 0")  # streaming
    await page.wait_for_timeout(900)  # the bars' growth (.8 s) is over

    png = await page.screenshot(omit_background=True)  # Chromium's default white made transparent, as OBS does
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "overlay.png").write_bytes(png)
    keep_for_readme(png, "overlay")
    picture = Image.open(io.BytesIO(png))
    assert picture.size == (1920, 1080) and picture.mode == "RGBA"
    alpha = picture.getchannel("A")
    for corner in ((0, 0), (1919, 0), (0, 1079), (1919, 1079), (960, 100)):
        assert alpha.getpixel(corner) == 0, corner  # the show's picture shows through
    panel = await page.locator(".board-panel").bounding_box()
    assert panel is not None
    assert alpha.getpixel((int(panel["x"]) + 16, int(panel["y"] + panel["height"] / 2))) > 200  # the panel is drawn
    transparent = alpha.histogram()[0] / (1920 * 1080)
    assert transparent > 0.5, transparent  # most of the picture is the show's

    second = page.locator('#overlay-rows li[data-code="02"]')
    await expect(second.locator(".votes")).to_have_text("1 vote")
    await confirmed_vote(sessions, show.contest, "02", 7)
    started = time.monotonic()  # from the count (the test's own writes on a loaded machine are not the board's)
    await refresh_contest(sessions, redis, show.contest.id)  # the board's frame published, as the relay does
    # A draw a second at most (overlay.js's DRAW_EVERY_MS), and room for a busy machine's Chromium: far under the
    # stream's 15 s heartbeat, which would bring the board even had the frame been lost.
    await expect(page.locator("#overlay-rows li").first).to_have_attribute("data-code", "02", timeout=5_000)
    await expect(second.locator(".votes")).to_have_text("8 votes", timeout=2_000)
    await expect(second.locator(".share")).to_have_text("72.7%")  # 8 of 11
    assert time.monotonic() - started < 5
    assert not problems, problems


def frame(version: int, votes: dict[str, int]) -> str:
    ranked = sorted(votes.items(), key=lambda item: (-item[1], item[0]))
    board = {"contest": "gala", "version": version, "sealed": False, "total_votes": sum(votes.values()),
             "candidates": [{"code": code, "name": f"Candidate {code}", "votes": n, "rank": rank}
                            for rank, (code, n) in enumerate(ranked, start=1)]}
    return f"id: {version}\nevent: leaderboard\ndata: {json.dumps(board)}\n\n"


@dataclass
class FakeStream:
    """Stands in for the board's stream: each connection gets the next body (then the stream ends, as when a
    connection drops), or None: a 503, after which the browser gives up on it. What the browser asked with is
    kept. Playwright's interception does not show the headers the browser's network stack adds (Last-Event-ID is
    one), so the browser's requests are sent on to here."""

    bodies: list[str | None]
    asked: list[tuple[str | None, str]] = field(default_factory=list)  # (Last-Event-ID, the query's id)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.asked.append((request.headers.get("Last-Event-ID"), request.query.get("last_event_id", "")))
        body = self.bodies[len(self.asked) - 1] if len(self.asked) <= len(self.bodies) else "retry: 60000\n\n"
        if body is None:
            return web.Response(status=503, text="busy")
        return web.Response(text=body, content_type="text/event-stream")


async def test_frames_in_a_burst_are_drawn_once_a_second_and_the_stream_resumes_where_it_was(
        show: Show, browser: Browser) -> None:
    """A frame, then four more at once a moment later (a busy minute on a big show): the first is drawn at once,
    the four coalesce into one drawn a second after it, the newest. Each time the stream ends, the browser
    reconnects with the version it holds; when it gives up (a 503), the overlay opens a new stream saying it."""
    page, problems = await overlay_page(browser)
    fake = FakeStream(["retry: 200\n\n" + frame(101, {"01": 10, "02": 5}),
                       "retry: 200\n\n" + "".join(frame(v, {"01": 10 * (v - 100), "02": 5}) for v in range(102, 106)),
                       None])
    app = web.Application()
    app.router.add_get("/{path:.*}", fake.handle)
    async with TestServer(app) as server:
        await page.route("**/leaderboard/stream*", lambda route: route.continue_(
            url=str(server.make_url(URL(route.request.url).path_qs))))
        await page.goto(f"{show.url}/c/gala/overlay?lang=en")
        votes = page.locator('#overlay-rows li[data-code="01"] .votes')
        await expect(votes).to_have_text("10 votes", timeout=3_000)
        await expect(votes).to_have_text("50 votes", timeout=3_000)
        await page.wait_for_timeout(1_200)  # time for any further draw
        draws = await page.evaluate("window.ballotOverlay.draws")
        assert len(draws) == 2 and draws[1] - draws[0] >= 1000, draws
        await expect(page.locator('#overlay-rows li[data-code="01"] .share')).to_have_text("90.9%")  # 50 of 55
        await until(lambda: len(fake.asked) > 3, timeout=8)  # the overlay waits 2 to 3 s after a refusal
    assert fake.asked[:4] == [(None, ""), ("101", ""), ("105", ""), (None, "105")]
    assert not [p for p in problems if "503" not in p], problems  # the refusal the browser reports
