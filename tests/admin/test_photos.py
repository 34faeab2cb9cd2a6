"""Candidate photos: only real images, re-encoded clean, served with safe headers; the upload is the
one signed-in exception to the 64 KB body cap and the refusal of multipart."""

from __future__ import annotations

import io
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient
from PIL import Image, PngImagePlugin
from sqlalchemy import func, select

from gateway.db.models import AuditEntry, Candidate
from tests.admin.accounts import Sessions, api_tokens, bearer, browser_sign_in, contest_fields, make_account


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
