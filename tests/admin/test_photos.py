"""Candidate photos: only real images, re-encoded clean, served with safe headers; the upload is the
one signed-in exception to the 64 KB body cap and the refusal of multipart."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient
from PIL import Image, ImageCms, PngImagePlugin
from sqlalchemy import func, select

from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Candidate
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, contest_fields, make_account


def png(width: int = 1600, height: int = 1200) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


async def candidate(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    contest = await (await client.post("/api/v1/admin/contests", json=contest_fields(), headers=headers)).json()
    response = await client.post(f"/api/v1/admin/contests/{contest['id']}/candidates", json={"name": "Awa"},
                                 headers=headers)
    body: dict[str, Any] = await response.json()
    return body


async def test_an_image_is_reencoded_and_served_with_safe_headers(client: TestClient, sessions: Sessions) -> None:
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    made = await candidate(client, owner)
    response = await client.post(f"/api/v1/admin/candidates/{made['id']}/photo", data=png(),
                                 headers={**owner, "Content-Type": "application/octet-stream"})
    assert response.status == 200, await response.text()
    url = (await response.json())["photo_url"]
    assert url.startswith("/photos/") and url.endswith(".jpg")
    served = await client.get(url)
    assert served.status == 200 and served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    body = await served.read()
    assert b"<script>" not in body
    with Image.open(io.BytesIO(body)) as image:
        assert image.format == "JPEG" and max(image.size) == 800 and not image.info.get("Comment")
    assert (await client.get("/photos/..%2f..%2fetc%2fpasswd")).status == 404


async def test_a_file_that_is_not_an_image_is_refused_and_changes_nothing(client: TestClient, sessions: Sessions
                                                                         ) -> None:
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    made = await candidate(client, owner)
    for data in (b"<html><script>alert(1)</script></html>", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, b""):
        response = await client.post(f"/api/v1/admin/candidates/{made['id']}/photo", data=data,
                                     headers={**owner, "Content-Type": "image/png"})
        assert response.status == 415, await response.text()
        assert (await response.json())["error"]["code"] == "not_an_image"
    too_big = await client.post(f"/api/v1/admin/candidates/{made['id']}/photo", headers=owner,
                                data=io.BytesIO(b"\xff" * (5 * 1024 * 1024 + 1)))
    assert too_big.status == 413
    async with sessions() as session:
        assert (await session.get(Candidate, made["id"])) is not None
        assert await session.scalar(select(Candidate.photo_url)) is None
        assert await session.scalar(select(func.count()).where(AuditEntry.action == "candidate.photo")) == 0


async def test_the_upload_form_works_signed_in_and_the_cap_holds_everywhere_else(client: TestClient,
                                                                                  sessions: Sessions) -> None:
    account = await make_account(sessions, "organiser")
    made = await candidate(client, bearer(await api_tokens(client, account)))
    path = f"/admin/candidates/{made['id']}/photo"

    def form(token: str) -> FormData:
        data = FormData()
        data.add_field("csrf_token", token)
        data.add_field("photo", png(), filename="me.png", content_type="image/png")
        return data

    signed_out = await client.post(path, data=form("x"), allow_redirects=False)
    assert signed_out.status == 415  # multipart from nobody in particular: refused before it is read
    token = await browser_sign_in(client, account)
    uploaded = await client.post(path, data=form(token), allow_redirects=False)
    assert uploaded.status == 303, await uploaded.text()
    async with sessions() as session:
        assert (await session.scalar(select(Candidate.photo_url)) or "").startswith("/photos/")
    big_json = await client.post("/api/v1/admin/contests", json={"name": "x" * 100_000},
                                 headers=bearer(await api_tokens(client, account)))
    assert big_json.status == 413


def header_segments(jpeg: bytes) -> list[bytes]:
    """A JPEG's segments before its image data (SOS), each as marker byte + payload."""
    assert jpeg[:2] == b"\xff\xd8"
    found, at = [], 2
    while jpeg[at + 1] != 0xDA:
        length = int.from_bytes(jpeg[at + 2:at + 4], "big")
        found.append(jpeg[at + 1:at + 2] + jpeg[at + 4:at + 2 + length])
        at += 2 + length
    return found


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
    Image.new("RGB", (900, 700), (10, 120, 40)).save(out, format=fmt, **extra)
    assert script in out.getvalue() or fmt == "WEBP"
    return out.getvalue()


async def test_no_comment_or_metadata_survives_in_the_served_photo(client: TestClient, sessions: Sessions) -> None:
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    made = await candidate(client, owner)
    for fmt in ("JPEG", "PNG", "WEBP"):
        response = await client.post(f"/api/v1/admin/candidates/{made['id']}/photo", data=with_metadata(fmt),
                                     headers={**owner, "Content-Type": "application/octet-stream"})
        assert response.status == 200, await response.text()
        served = await (await client.get((await response.json())["photo_url"])).read()
        assert b"script" not in served, fmt
        kept = [segment for segment in header_segments(served) if segment[0] == 0xFE or 0xE0 <= segment[0] <= 0xEF]
        assert kept == [b"\xe0" + kept[0][1:]] and kept[0][1:6] == b"JFIF\x00", (fmt, kept)  # JFIF's APP0 alone


def photo_files(settings: Settings) -> list[Path]:
    folder = settings.gateway_data_dir / "photos"
    return sorted(folder.iterdir()) if folder.is_dir() else []


async def test_a_photo_for_another_organisers_candidate_is_refused_before_a_file_is_written(
        client: TestClient, sessions: Sessions, settings: Settings) -> None:
    first = bearer(await api_tokens(client, await make_account(sessions, "organiser")))
    made = await candidate(client, first)
    second = await make_account(sessions, "organiser", "second@example.com")
    files = photo_files(settings)
    by_api = await client.post(f"/api/v1/admin/candidates/{made['id']}/photo", data=png(),
                               headers={**bearer(await api_tokens(client, second)), "Content-Type": "image/png"})
    assert by_api.status == 404, await by_api.text()
    form = FormData()
    form.add_field("csrf_token", await browser_sign_in(client, second))
    form.add_field("photo", png(), filename="me.png", content_type="image/png")
    by_form = await client.post(f"/admin/candidates/{made['id']}/photo", data=form, allow_redirects=False)
    assert by_form.status == 404, await by_form.text()
    assert photo_files(settings) == files
    async with sessions() as session:
        assert await session.scalar(select(Candidate.photo_url).where(Candidate.id == made["id"])) is None


async def test_a_hidden_candidates_photo_and_a_replaced_one_are_not_served(
        client: TestClient, sessions: Sessions) -> None:
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    made = await candidate(client, owner)
    photo = f"/api/v1/admin/candidates/{made['id']}/photo"
    octets = {**owner, "Content-Type": "application/octet-stream"}
    url = (await (await client.post(photo, data=png(), headers=octets)).json())["photo_url"]
    served = await client.get(url)
    assert served.status == 200 and served.headers["Cache-Control"] == "public, max-age=60"  # no cache keeps it long
    hidden = await client.patch(f"/api/v1/admin/candidates/{made['id']}", json={"status": "hidden"}, headers=owner)
    assert hidden.status == 200, await hidden.text()
    assert (await client.get(url)).status == 404  # a link someone kept stops showing it at once
    await client.patch(f"/api/v1/admin/candidates/{made['id']}", json={"status": "active"}, headers=owner)
    assert (await client.get(url)).status == 200
    newer = (await (await client.post(photo, data=png(), headers=octets)).json())["photo_url"]
    assert (await client.get(newer)).status == 200 and (await client.get(url)).status == 404  # the replaced one
