"""An organiser replaces a candidate's clip, then their photo, from the admin area in a real browser (Debian's
Chromium, headless, phone-sized): the page's script sends each file straight to the media server in chunks, follows
its preparation by the media worker and sets it; the candidate's public page then plays the new clip beside the new
photo. Screenshots in tests/artifacts/."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import Browser, expect
from sqlalchemy import select

from gateway.db.engine import Sessions
from gateway.db.models import Candidate, Contest, MediaUpload, UploadState
from media.upload_jobs import process_upload
from tests.chromium import CHROMIUM, plays_past
from tests.core.entries.test_entering_browser import Show, shot, show, signed_in_owner
from tests.media.test_processing import make_clip

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (`make test` installs it)")
__all__ = ["show"]  # the fixture, used by name


async def received_upload(sessions: Sessions) -> MediaUpload:
    """The organiser's upload once the media server has it all (the browser sends it at its own pace)."""
    for _ in range(150):
        async with sessions() as session:
            found = await session.scalar(select(MediaUpload).where(MediaUpload.msisdn.is_(None),
                                                                   MediaUpload.state == UploadState.RECEIVED))
        if found is not None:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError("the file never reached the media server")


async def test_an_organiser_replaces_a_candidates_clip_and_photo_from_a_phone(
        show: Show, browser: Browser, sessions: Sessions, tmp_path: Path) -> None:
    admin = await signed_in_owner(show, browser, sessions, viewport={"width": 412, "height": 915})
    problems: list[str] = []
    admin.on("pageerror", lambda error: problems.append(str(error)))
    admin.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    async with sessions() as session:
        demo = await session.scalar(select(Contest.id).where(Contest.slug == "demo"))
        candidate = await session.scalar(select(Candidate).where(Candidate.contest_id == demo, Candidate.code == "01"))
    assert candidate is not None and candidate.clip_id is None
    await admin.goto(f"{show.url}/admin/contests/{demo}")
    await admin.get_by_role("row", name=re.compile(candidate.name)).get_by_role("link", name="Clip").click()
    await expect(admin.get_by_role("heading", name=f"Clip of {candidate.name} (01)")).to_be_visible()
    clip = make_clip(tmp_path / "new.mp4", size="1280x720", seconds=3)
    await admin.get_by_label("A new clip (at most 60 seconds and 50 MB)").set_input_files(str(clip))
    await admin.get_by_role("button", name="Replace the clip").click()

    upload = await received_upload(sessions)
    await expect(admin.get_by_text("The clip is being prepared")).to_be_visible()
    assert await process_upload(show.job, upload.id) == "ready"  # the media worker's turn
    await expect(admin).to_have_url(f"{show.url}/admin/contests/{demo}", timeout=20_000)  # set, and back
    async with sessions() as session:
        assert await session.scalar(select(Candidate.clip_id).where(Candidate.id == candidate.id)) == upload.id
    await admin.goto(f"{show.url}/admin/candidates/{candidate.id}/clip")
    player = admin.locator("video")
    assert upload.id.hex[:8] in (await player.get_attribute("src") or "").replace("-", "")
    await shot(admin, "admin-clip-replaced")

    await admin.goto(f"{show.url}/admin/contests/{demo}")
    await admin.get_by_role("row", name=re.compile(candidate.name)).get_by_role("link", name="Photo").click()
    await expect(admin.get_by_role("heading", name=f"Photo of {candidate.name} (01)")).to_be_visible()
    picture = tmp_path / "me.png"
    Image.new("RGB", (1200, 1600), (30, 120, 200)).save(picture, format="PNG")
    await admin.get_by_label("A new photo (JPEG, PNG or WebP; at most 5 MB)").set_input_files(str(picture))
    await admin.get_by_role("button", name="Replace the photo").click()
    photo = await received_upload(sessions)
    await expect(admin.get_by_text("The photo is being prepared")).to_be_visible()
    assert await process_upload(show.job, photo.id) == "ready"
    await expect(admin).to_have_url(f"{show.url}/admin/contests/{demo}", timeout=20_000)
    async with sessions() as session:
        assert await session.scalar(select(Candidate.photo_id).where(Candidate.id == candidate.id)) == photo.id
    listed = admin.get_by_role("row", name=re.compile(candidate.name)).locator("img")  # from the media server
    await expect(listed).to_have_js_property("complete", True)
    assert await listed.evaluate("img => img.naturalWidth") > 0, "the contest page's list did not show the photo"
    await shot(admin, "admin-photo-replaced")

    viewer = await browser.new_page(locale="en-US", viewport={"width": 412, "height": 915})
    await viewer.goto(f"{show.url}/c/demo/01?lang=en")
    assert await plays_past(viewer.locator("video"), 0.2), "the new clip did not play on the candidate page"
    shown = viewer.locator("img.cand-photo")
    assert str(photo.id) in (await shown.get_attribute("srcset") or "")
    await expect(shown).to_have_js_property("complete", True)
    assert await shown.evaluate("img => img.naturalWidth") > 0, "the new photo did not load on the candidate page"
    assert problems == []
