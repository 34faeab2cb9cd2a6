"""A video contest end to end in a real browser (Debian's Chromium, headless, phone-sized): a candidate enters
the demo contest with a real clip (made here by ffmpeg), proving their number with the code AT's fake receives;
the clip goes to the media server in chunks and the media worker prepares it; the organiser approves the entry
in the admin area; the candidate page plays the 360p clip with its poster and share card; a vote for the new
candidate counts. Screenshots of each step go to tests/artifacts/."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, Route, expect
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import select

from assembly.machine.demo import seed_demo
from assembly.resources.media import local_storage
from assembly.resources.providers import build_providers
from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.web.keys import STARTS
from assembly.worker.job_runtime import JobContext, build_receipt_senders
from channels.sms.channel import texter
from gateway.core.phone_texts import TEXT_CODE_PASS
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, Contest, MediaUpload, OutboxMessage, Tally, UploadState
from gateway.jobs.queues import job_queue, sync_redis
from media.candidate_texts import on_entry_decided, text_code
from media.upload_jobs import process_upload
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.admin.accounts import PASSWORD, make_account
from tests.chromium import ARTIFACTS, CHROMIUM, plays_past
from tests.fakes.africastalking import FakeAt
from tests.media.test_processing import make_clip
from tests.servers import free_port

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (`make test` installs it)")
PHONE = "+237670004455"


@dataclass
class Show:
    url: str
    app: web.Application
    job: JobContext


@pytest.fixture
async def show(clean: None, settings: Settings, sessions: Sessions, redis: Redis) -> AsyncIterator[Show]:
    """The web, the media server and the payment sandbox on real ports, wired as `gateway run` wires them."""
    port, media_port = free_port(), free_port()
    media_url = f"http://127.0.0.1:{media_port}"
    async with TestServer(create_sandbox_app(SandboxControl(success_delay=0.3))) as sandbox:
        wired = settings.model_copy(update={
            "public_base_url": f"http://127.0.0.1:{port}", "sandbox_url": str(sandbox.make_url("")).rstrip("/"),
            "media_upload_url": media_url, "media_files_url": media_url, "code_work_bits": 10,
            "at_username": "sandbox", "at_api_key": SecretStr("at-key-0123456789")})

        from media.upload_server import database_hooks, media_app
        async with (TestServer(media_app(local_storage(wired), *database_hooks(sessions)), port=media_port),
                    TestServer(create_app(wired), port=port) as server, httpx.AsyncClient() as http):
            await seed_demo(sessions)
            registry = build_providers(wired, http)
            job = JobContext(wired, sessions, redis, registry, build_receipt_senders(wired, sessions, http),
                             {"sms": texter(wired, sessions, http)}, local_storage(wired))
            yield Show(f"http://127.0.0.1:{port}", server.app, job)
            await registry.aclose()
            await server.app[STARTS].close(grace=0)


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"video-{name}.png"), full_page=True)


async def text_the_code(show: Show, fake_at: FakeAt) -> str:
    """What the worker does with the queued text: AT's fake receives it; the code is what the phone shows."""
    queue = job_queue(sync_redis(show.job.settings.redis_url or ""))
    [queued] = [job for job in queue.get_jobs() if job.args[:1] == [TEXT_CODE_PASS]]
    await text_code(show.job, *queued.args[1:])
    found = re.search(r"\b(\d{6})\b", fake_at.texts()[-1])
    assert found is not None and fake_at.sent[-1]["to"] == PHONE
    return found.group(1)


async def process_everything(show: Show, sessions: Sessions) -> None:
    """The media worker's turn: every upload received is probed and transcoded."""
    async with sessions() as session:
        waiting = list(await session.scalars(select(MediaUpload.id).where(MediaUpload.state == UploadState.RECEIVED)))
    assert waiting, "nothing reached the media server"
    for upload_id in waiting:
        assert await process_upload(show.job, upload_id) == "ready"


async def test_a_candidate_enters_is_approved_plays_is_shared_and_gets_a_vote(
        show: Show, browser: Browser, fake_at: FakeAt, sessions: Sessions, tmp_path: Path) -> None:
    page = await browser.new_page(locale="en-US", viewport={"width": 412, "height": 915})
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    await page.goto(f"{show.url}/c/demo/enter?lang=en")
    await expect(page.get_by_role("heading", name="Enter Demo Star 2026")).to_be_visible()
    await page.get_by_label("Mobile number").fill(PHONE)
    await shot(page, "01-enter")
    await page.get_by_role("button", name="Text me a code").click()
    await expect(page.get_by_label("The code we texted you")).to_be_visible()
    await page.get_by_label("The code we texted you").fill(await text_the_code(show, fake_at))
    await page.get_by_role("button", name="Check the code").click()
    await page.get_by_label("Your name (as viewers will see it)").fill("Awa Nkeng")
    await page.get_by_label("A few words about you").fill("Singer from Bafoussam.")
    clip = make_clip(tmp_path / "awa.mp4", size="1280x720", seconds=4)
    await page.get_by_label("Your clip (at most 60 seconds and 50 MB)").set_input_files(str(clip))
    await page.get_by_label("I accept the rules of the contest").check()
    await shot(page, "02-entry-form")
    await page.get_by_role("button", name="Send my entry").click()
    await expect(page.get_by_text("Your entry waits for the organiser's decision.")).to_be_visible()
    await expect(page.get_by_text("Your clip is being prepared")).to_be_visible()
    await shot(page, "03-entry-sent")

    await process_everything(show, sessions)
    # The page's script looks again every 10 s and reloads once the clip is ready (no meta refresh with scripts:
    # it would cut off a replacement clip being sent).
    await expect(page.get_by_text("Your clip is ready.")).to_be_visible(timeout=20_000)
    video = page.locator("video.clip")
    await expect(video).to_have_attribute("preload", "none")
    assert await plays_past(video, 0.2), "the 360p clip did not play from the media server"
    await shot(page, "04-entry-ready")

    await approve_in_the_admin_area(show, browser, sessions)
    await page.reload()
    await expect(page.get_by_text("Your entry is approved: you are candidate 09.")).to_be_visible()
    assert "you are candidate 09" in fake_at.texts()[-1]  # the decision, texted once it committed

    await page.get_by_role("link", name="See your candidate page").click()
    await expect(page.get_by_role("heading", name=re.compile("Awa Nkeng"))).to_be_visible()
    clip_player = page.locator("video")
    await expect(clip_player).to_have_attribute("preload", "none")
    assert await plays_past(clip_player, 0.2), "the clip did not play on the candidate page"
    await expect(page.get_by_text(re.compile(r"\*384\*123\*1\*09#"))).to_be_visible()
    await expect(page.get_by_text("Text VOTE 09 to 20123", exact=False)).to_be_visible()
    await shot(page, "05-candidate-page")
    card = await share_card(show, page.url)
    assert card["og:title"].startswith("Awa Nkeng")
    async with httpx.AsyncClient() as http:
        poster = await http.get(card["og:image"])
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"

    await page.get_by_label("Number of votes").fill("3")
    await page.get_by_label("MTN Mobile Money").check()
    await page.get_by_label("Mobile money number").fill("+237670000001")
    await page.get_by_role("button", name="Vote and pay").click()
    await expect(page.locator("#order-panel")).to_contain_text("Thank you! Your vote counts.", timeout=20_000)
    await shot(page, "06-voted")
    async with sessions() as session:
        votes = await session.scalar(select(Tally.votes).join(Candidate, Candidate.id == Tally.candidate_id)
                                     .join(Contest, Contest.id == Candidate.contest_id)
                                     .where(Contest.slug == "demo", Candidate.code == "09"))
    assert votes == 3
    assert problems == []


async def test_a_clip_whose_last_chunk_arrived_but_its_answer_was_lost_is_sent_all_the_same(
        show: Show, browser: Browser, fake_at: FakeAt, sessions: Sessions, tmp_path: Path) -> None:
    """A 3G link drops as the media server answers the clip's last chunk: the page asks again where the upload
    stands, learns it is complete, and sends the entry (not an error for a clip that arrived whole)."""
    page = await browser.new_page(locale="en-US", viewport={"width": 412, "height": 915})
    page.set_default_timeout(15_000)
    lost: list[str] = []

    async def answer_lost(route: Route) -> None:
        if route.request.method == "PATCH" and not lost:
            await route.fetch()  # the chunk reaches the media server, which keeps it and answers
            lost.append(route.request.url)
            await route.abort("connectionreset")  # and the answer never reaches the phone
        else:
            await route.continue_()

    await page.route(re.compile(r"/uploads/"), answer_lost)
    await enter(page, show, fake_at, make_clip(tmp_path / "awa.mp4", size="640x360", seconds=2))
    await expect(page.get_by_text("Your entry waits for the organiser's decision.")).to_be_visible(timeout=30_000)
    assert lost, "no chunk's answer was lost: the test tried nothing"
    async with sessions() as session:
        states = list(await session.scalars(select(MediaUpload.state).where(MediaUpload.msisdn == PHONE)))
    assert states == [UploadState.RECEIVED]


async def test_an_empty_file_is_told_empty_in_the_pages_language(
        show: Show, browser: Browser, fake_at: FakeAt, sessions: Sessions, tmp_path: Path) -> None:
    """A phone's placeholder of a clip kept in the cloud is a file of no bytes: not "too large"."""
    page = await browser.new_page(locale="fr-FR", viewport={"width": 412, "height": 915})
    page.set_default_timeout(15_000)
    empty = tmp_path / "clip.mp4"
    empty.write_bytes(b"")
    await enter(page, show, fake_at, empty, lang="fr")
    await expect(page.locator("#entry-error")).to_have_text(
        "Ce fichier est vide ; choisissez-en un que votre téléphone contient.")


async def enter(page: Page, show: Show, fake_at: FakeAt, clip: Path, lang: str = "en") -> None:
    """Prove the number, fill the entry with `clip` and send it (the entry page's labels, by their ids)."""
    await page.goto(f"{show.url}/c/demo/enter?lang={lang}")
    await page.locator("#msisdn").fill(PHONE)
    await page.locator("#phone-form button[type=submit]").click()
    await expect(page.locator("#code")).to_be_visible()
    await page.locator("#code").fill(await text_the_code(show, fake_at))
    await page.locator("#check-code").click()
    await page.locator("#name").fill("Awa Nkeng")
    await page.locator("#clip").set_input_files(str(clip))
    await page.locator("#rules").check()
    await page.locator("#entry-form button[type=submit]").click()


async def approve_in_the_admin_area(show: Show, browser: Browser, sessions: Sessions) -> None:
    """The organiser signs in, watches the entry's clip in the review queue and approves it."""
    admin = await signed_in_owner(show, browser, sessions)
    async with sessions() as session:
        demo = await session.scalar(select(Contest.id).where(Contest.slug == "demo"))
    await admin.goto(f"{show.url}/admin/contests/{demo}/entries")
    row = admin.get_by_role("row", name=re.compile("Awa Nkeng"))
    await expect(row.locator("video")).to_have_attribute("preload", "none")
    assert await plays_past(row.locator("video"), 0.1), "the clip did not play in the review queue"
    await shot(admin, "admin-entries")
    await row.get_by_role("button", name="Approve", exact=True).click()
    await expect(admin.get_by_text("No entry here.")).to_be_visible()  # the pending queue is empty again
    await admin.get_by_role("link", name="approved").click()
    await expect(admin.get_by_role("row", name=re.compile("Awa Nkeng"))).to_contain_text("09")
    async with sessions() as session:
        notice = await session.scalar(select(OutboxMessage.payload).where(OutboxMessage.topic == "entry.decided"))
    assert notice is not None
    await on_entry_decided(show.job, notice)  # the worker's delivery of the decision
    await admin.close()


async def signed_in_owner(show: Show, browser: Browser, sessions: Sessions,
                          viewport: dict[str, int] | None = None) -> Page:
    """A page of the admin area, an owner signed in."""
    account = await make_account(sessions, "owner")
    admin = await browser.new_page(locale="en-US", viewport=viewport or {"width": 1280, "height": 900})
    admin.set_default_timeout(15_000)
    await admin.goto(f"{show.url}/admin/signin")
    await admin.get_by_label("Email").fill(account.email)
    await admin.get_by_label("Password").fill(PASSWORD)
    await admin.get_by_label("Code from your authenticator app").fill(account.code())
    await admin.get_by_role("button", name="Sign in").click()
    await expect(admin.get_by_role("button", name="Sign out")).to_be_visible()
    return admin


async def share_card(show: Show, url: str) -> dict[str, str]:
    """The meta a WhatsApp or Facebook preview reads: fetched as their crawlers do, without running scripts."""
    async with httpx.AsyncClient() as http:
        html = (await http.get(url, headers={"User-Agent": "WhatsApp/2.23", "Accept-Language": "en"})).text
    return dict(re.findall(r'<meta property="(og:[a-z:_]+)" content="([^"]*)"', html))
