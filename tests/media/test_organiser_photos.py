"""An organiser's photo for a candidate, as the admin page's script sends it: a grant from the admin API, the file
straight to the media server, the media worker's re-encode (real images only, at most 800 px, no metadata, with the
small copies pages show), then set as the candidate's. No web process reads or decodes it: no admin route takes a
file, and the 64 KB body cap holds for a signed-in organiser too. Photos an organiser sent before this still show."""

from __future__ import annotations

import functools
import io
import re
import uuid
from html import unescape
from pathlib import Path
from typing import Any

from PIL import Image, ImageCms, PngImagePlugin
from sqlalchemy import select, update

from assembly.worker.job_runtime import JobContext
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Candidate, Contest
from media.upload_jobs import process_upload
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, make_account
from tests.admin.entries_data import give_contest
from tests.factories import make_contest
from tests.media.conftest import Entering
from tests.media.tus_sending import send_by_tus

API = "/api/v1/admin/candidates"


@functools.cache
def with_metadata(fmt: str) -> bytes:
    """A photo carrying every kind of metadata its format has room for, each holding a script."""
    script = b"<script>alert(1)</script>"
    exif = Image.Exif()
    exif[0x010E] = script.decode()  # ImageDescription
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    extra: dict[str, Any] = {"exif": exif.tobytes(), "icc_profile": icc, "xmp": script}
    if fmt == "JPEG":
        extra["comment"] = script
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", script.decode())
        info.add_itxt("XML:com.adobe.xmp", script.decode())
        extra["pnginfo"] = info
    out = io.BytesIO()
    # Noise, not a flat colour: a photo's bytes, so the small copies' savings are a photo's too.
    Image.effect_noise((1200, 900), 60).convert("RGB").save(out, format=fmt, **extra)
    assert script in out.getvalue() or fmt == "WEBP"
    return out.getvalue()


def header_segments(jpeg: bytes) -> list[bytes]:
    """A JPEG's segments before its image data (SOS), each as marker byte + payload."""
    assert jpeg[:2] == b"\xff\xd8"
    found, at = [], 2
    while jpeg[at + 1] != 0xDA:
        length = int.from_bytes(jpeg[at + 2:at + 4], "big")
        found.append(jpeg[at + 1:at + 2] + jpeg[at + 4:at + 2 + length])
        at += 2 + length
    return found


async def gala(sessions: Sessions) -> tuple[Contest, int]:
    """An open contest "gala" and the id of its candidate 01."""
    contest = await make_contest(sessions, slug="gala", candidates=2)
    async with sessions() as session:
        found = await session.scalar(select(Candidate.id).where(Candidate.contest_id == contest.id,
                                                                Candidate.code == "01"))
    assert found is not None
    return contest, found


async def sent(entering: Entering, headers: dict[str, str], candidate_id: int, data: bytes) -> str:
    """The page script's first steps: a grant, then the file to the media server; the upload's id."""
    granted = await entering.web.post(f"{API}/{candidate_id}/photo/grant", headers=headers, json={})
    assert granted.status == 201, await granted.text()
    grant = await granted.json()
    assert grant["max_bytes"] == 5 * 1024 * 1024
    await send_by_tus(entering.media, grant, data)
    return str(grant["upload_id"])


async def json_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_an_organisers_photo_is_cleaned_by_the_media_worker_and_becomes_the_candidates(
        entering: Entering, media_job: JobContext, sessions: Sessions) -> None:
    owner = bearer(await api_tokens(entering.web, await make_account(sessions, "owner")))
    _, candidate_id = await gala(sessions)
    photo = f"{API}/{candidate_id}/photo"
    former = None
    for fmt in ("JPEG", "PNG", "WEBP"):
        upload_id = await sent(entering, owner, candidate_id, with_metadata(fmt))
        follow = f"{photo}/uploads/{upload_id}"
        assert (await json_of(await entering.web.get(follow, headers=owner), 200))["state"] == "received"
        early = await json_of(await entering.web.put(photo, headers=owner, json={"upload_id": upload_id}), 409)
        assert early["error"]["code"] == "photo_not_ready"
        assert await process_upload(media_job, uuid.UUID(upload_id)) == "ready"  # the media worker's turn
        assert (await json_of(await entering.web.get(follow, headers=owner), 200))["state"] == "ready"
        made = await json_of(await entering.web.put(photo, headers=owner, json={"upload_id": upload_id}), 200)
        assert made["photo_id"] == upload_id and made["photo_url"].endswith(f"/files/{upload_id}/photo.jpg")
        served = await entering.media.get(f"/files/{upload_id}/photo.jpg")
        assert served.status == 200 and served.headers["Content-Type"] == "image/jpeg"
        body = await served.read()
        assert b"script" not in body, fmt
        kept = [segment for segment in header_segments(body) if segment[0] == 0xFE or 0xE0 <= segment[0] <= 0xEF]
        assert kept == [b"\xe0" + kept[0][1:]] and kept[0][1:6] == b"JFIF\x00", (fmt, kept)  # JFIF's APP0 alone
        with Image.open(io.BytesIO(body)) as image:
            assert image.format == "JPEG" and image.size == (800, 600)
        if former is not None:  # the one it replaced: withheld at once
            assert (await entering.media.get(f"/files/{former}/photo.jpg")).status == 404
        former = upload_id
    async with sessions() as session:
        audited = list(await session.scalars(select(AuditEntry).where(AuditEntry.action == "candidate.photo")
                                             .order_by(AuditEntry.id)))
    assert len(audited) == 3 and audited[-1].after is not None and audited[-1].after["photo"] == former
    assert audited[0].before == {"photo": None, "photo_url": None}


async def test_the_candidate_page_shows_the_photo_from_its_small_copies(
        entering: Entering, media_job: JobContext, sessions: Sessions) -> None:
    owner = bearer(await api_tokens(entering.web, await make_account(sessions, "owner")))
    _, candidate_id = await gala(sessions)
    upload_id = await sent(entering, owner, candidate_id, with_metadata("JPEG"))
    assert await process_upload(media_job, uuid.UUID(upload_id)) == "ready"
    await json_of(await entering.web.put(f"{API}/{candidate_id}/photo", headers=owner, json={"upload_id": upload_id}),
                  200)
    html = await (await entering.web.get("/c/gala/01", params={"lang": "en"})).text()
    tag = re.search(r'<img class="cand-photo"[^>]*>', html)
    assert tag, html
    img = {name: unescape(value) for name, value in re.findall(r'([a-z]+)="([^"]*)"', tag.group(0))}
    copies = dict(reversed(entry.split()) for entry in img["srcset"].split(", "))
    assert set(copies) == {"320w", "640w"} and "/photo.jpg " not in img["srcset"]
    original = await (await entering.media.get(f"/files/{upload_id}/photo.jpg")).read()
    for width, url in copies.items():
        assert url.startswith(str(entering.media.make_url("/files/")))  # from the media server, not the web
        served = await entering.media.get("/" + url.split("/", 3)[3])
        assert served.status == 200 and served.headers["Content-Type"] == "image/jpeg"
        body = await served.read()
        with Image.open(io.BytesIO(body)) as picture:
            assert picture.size[0] == int(width[:-1])
        assert len(body) < len(original)


async def test_a_file_that_is_not_an_image_is_refused_and_changes_nothing(
        entering: Entering, media_job: JobContext, sessions: Sessions) -> None:
    owner = bearer(await api_tokens(entering.web, await make_account(sessions, "owner")))
    _, candidate_id = await gala(sessions)
    for data in (b"<html><script>alert(1)</script></html>", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100):
        upload_id = await sent(entering, owner, candidate_id, data)
        assert (await process_upload(media_job, uuid.UUID(upload_id))).startswith("refused")
        state = await json_of(await entering.web.get(f"{API}/{candidate_id}/photo/uploads/{upload_id}",
                                                     headers=owner), 200)
        assert state["state"] == "refused" and state["refusal"] == "The file is not a JPEG, PNG or WebP image."
        held = await json_of(await entering.web.put(f"{API}/{candidate_id}/photo", headers=owner,
                                                    json={"upload_id": upload_id}), 409)
        assert held["error"]["code"] == "photo_not_ready"
    clip = await json_of(await entering.web.put(f"{API}/{candidate_id}/clip", headers=owner,
                                                json={"upload_id": upload_id}), 400)
    assert clip["error"]["code"] == "unknown_upload"  # a photo's upload is no clip
    async with sessions() as session:
        candidate = await session.get(Candidate, candidate_id)
        audited = await session.scalar(select(AuditEntry.id).where(AuditEntry.action.like("candidate.%")))
    assert candidate is not None and candidate.photo_url is None and candidate.photo_id is None and audited is None


async def test_another_organisers_candidate_takes_no_photo_of_theirs(entering: Entering, sessions: Sessions) -> None:
    contest, candidate_id = await gala(sessions)
    first = await make_account(sessions, "organiser")
    await give_contest(sessions, contest.id, first.id)
    mine = bearer(await api_tokens(entering.web, first))
    upload_id = await sent(entering, mine, candidate_id, with_metadata("PNG"))
    other = bearer(await api_tokens(entering.web, await make_account(sessions, "organiser", "second@example.com")))
    photo = f"{API}/{candidate_id}/photo"
    assert (await entering.web.post(f"{photo}/grant", headers=other, json={})).status == 404
    assert (await entering.web.get(f"{photo}/uploads/{upload_id}", headers=other)).status == 404
    assert (await entering.web.put(photo, headers=other, json={"upload_id": upload_id})).status == 404


async def test_no_admin_route_takes_a_file_even_from_a_signed_in_owner(entering: Entering, sessions: Sessions) -> None:
    account = await make_account(sessions, "owner")
    owner = bearer(await api_tokens(entering.web, account))
    _, candidate_id = await gala(sessions)
    image = with_metadata("PNG")
    # The photo's bytes as the body, as the API once took them: no such route now.
    posted = await entering.web.post(f"{API}/{candidate_id}/photo", data=io.BytesIO(image),
                                     headers={**owner, "Content-Type": "application/octet-stream"})
    assert posted.status == 405 and "PUT" in posted.headers["Allow"]
    assert (await posted.json())["error"]["code"] == "method_not_allowed"  # the way now: a grant, then PUT
    too_big = await entering.web.put(f"{API}/{candidate_id}/photo", headers=owner,
                                     json={"upload_id": "x" * 100_000})
    assert too_big.status == 413  # the 64 KB cap, for an owner too
    token = await browser_sign_in(entering.web, account)
    form = {"csrf_token": token, "photo": io.BytesIO(image)}
    by_form = await entering.web.post(f"/admin/candidates/{candidate_id}/photo", data=form, allow_redirects=False)
    assert by_form.status in (405, 415), await by_form.text()
    page = await entering.web.get(f"/admin/candidates/{candidate_id}/photo")
    assert page.status == 200 and 'id="upload-form"' in await page.text()
    assert str(entering.media.make_url("")).rstrip("/") in page.headers["Content-Security-Policy"]  # sends there
    async with sessions() as session:
        candidate = await session.get(Candidate, candidate_id)
    assert candidate is not None and candidate.photo_url is None


async def test_a_photo_sent_before_photos_went_through_the_storage_still_shows(
        entering: Entering, sessions: Sessions) -> None:
    _, candidate_id = await gala(sessions)
    folder: Path = entering.settings.gateway_data_dir / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 30, 30)).save(out, format="JPEG")
    (folder / f"{name}.jpg").write_bytes(out.getvalue())
    async with sessions.begin() as session:
        await session.execute(update(Candidate).where(Candidate.id == candidate_id)
                              .values(photo_url=f"/photos/{name}.jpg"))
    served = await entering.web.get(f"/photos/{name}.jpg")
    assert served.status == 200 and served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Cache-Control"] == "public, max-age=60"  # no cache keeps it long
    assert (await entering.web.get("/photos/..%2f..%2fetc%2fpasswd")).status == 404
    owner = bearer(await api_tokens(entering.web, await make_account(sessions, "owner")))
    await json_of(await entering.web.patch(f"{API}/{candidate_id}", json={"status": "hidden"}, headers=owner), 200)
    assert (await entering.web.get(f"/photos/{name}.jpg")).status == 404  # a link someone kept stops showing it
    page = await entering.web.get(f"/admin/candidates/{candidate_id}/photo", headers=owner)
    html = await page.text()
    assert "Withheld while the candidate is hidden" in html and f"/photos/{name}.jpg" not in html  # no broken image
