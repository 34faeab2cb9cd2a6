"""The Cloudinary storage against its local stand-in, as a candidate's browser and the service meet them: a clip
sent straight to the upload API in 5 MB+ chunks with the service's signed grant, its renditions made and the
service told in a signed notification, then delivered with Range; a grant changed by the browser or too old is
refused; what is not a usable clip is refused with the entry rules' words. Clips are made here with ffmpeg."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.core.media_storage import UploadGrant, file_key
from media.cloudinary import CloudinaryStorage
from media.cloudinary_notices import read_notification, read_resource, verify_notification
from media.cloudinary_stand_in import stand_in_app
from media.settings import CloudinaryAccount
from tests.media.test_processing import ffmpeg_writes, make_clip

ACCOUNT = CloudinaryAccount("ballot-test", "test-api-key", "test-api-secret-0123456789abcdef")
LATER = datetime.now(UTC) + timedelta(hours=2)


@dataclass
class Notified:
    received: list[tuple[bytes, str, str]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((await request.read(), request.headers.get("X-Cld-Timestamp", ""),
                              request.headers.get("X-Cld-Signature", "")))
        self.arrived.set()
        return web.Response(text="ok")

    async def notice_of(self, kind: str) -> dict[str, Any]:
        """The first notification of `kind` (waiting for the eager files to be made, as a service would)."""
        async with asyncio.timeout(120):
            while True:
                for body, timestamp, signature in self.received:
                    payload = json.loads(body)
                    if payload["notification_type"] == kind:
                        assert verify_notification(body, timestamp, signature, ACCOUNT.api_secret, time.time())
                        found: dict[str, Any] = payload
                        return found
                self.arrived.clear()
                await self.arrived.wait()


@dataclass
class Cloud:
    storage: CloudinaryStorage
    http: httpx.AsyncClient
    notified: Notified
    base: str


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    notified = Notified()
    receiver = web.Application()
    receiver.router.add_post("/notify", notified.handle)
    async with TestServer(stand_in_app(ACCOUNT, tmp_path / "cloudinary")) as stand_in, \
            TestServer(receiver) as listening, httpx.AsyncClient(timeout=30) as http:
        base = str(stand_in.make_url("")).rstrip("/")
        storage = CloudinaryStorage(ACCOUNT, http, str(listening.make_url("/notify")), api_base=base,
                                    delivery_base=base)
        yield Cloud(storage, http, notified, base)


async def send(http: httpx.AsyncClient, grant: UploadGrant, data: bytes, *, chunked: bool = True,
               fields: dict[str, str] | None = None) -> list[httpx.Response]:
    """What the page's script does: the grant's fields and the file, in chunks of the grant's size."""
    size = grant.chunk_bytes if chunked else len(data)
    unique = {"X-Unique-Upload-Id": uuid.uuid4().hex} if chunked else {}
    answers = []
    for first in range(0, len(data), size):
        piece = data[first:first + size]
        headers = {**unique, "Content-Range": f"bytes {first}-{first + len(piece) - 1}/{len(data)}"} if chunked else {}
        answers.append(await http.post(grant.url, data=fields or dict(grant.fields),
                                       files={"file": ("clip.mp4", piece, "video/mp4")}, headers=headers))
    return answers


def big_clip(path: Path) -> Path:
    """A second of noise, losslessly coded: over 5 MB, so it goes in two of Cloudinary's chunks."""
    ffmpeg_writes(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                   "-vf", "noise=alls=60:allf=t", "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0",
                   "-movflags", "+faststart", "-f", "mp4", "-y", str(path)])
    return path


async def test_a_clip_sent_in_two_chunks_is_made_into_what_phones_play_and_the_service_is_told(
        cloud: Cloud, tmp_path: Path) -> None:
    upload_id = str(uuid.uuid4())
    clip = big_clip(tmp_path / "clip.mp4").read_bytes()
    grant = cloud.storage.grant_upload(upload_id, "clip", 50 * 1024 * 1024, LATER)
    assert grant.protocol == "cloudinary" and grant.url == f"{cloud.base}/v1_1/ballot-test/video/upload"
    first, last = await send(cloud.http, grant, clip)
    assert first.status_code == 200 and first.json() == {"done": False}
    arrived = read_resource(last.json())  # the last chunk is answered with the resource
    assert (arrived.upload_id, arrived.size_bytes, arrived.refusal) == (upload_id, len(clip), None)
    assert arrived.facts["width"] == 320 and arrived.facts["audio_streams"] == 1
    received = await cloud.storage.received(upload_id)
    assert received is not None and received.size_bytes == len(clip)

    eager = read_notification(await cloud.notified.notice_of("eager"))
    assert eager.upload_id == upload_id and eager.made is not None
    assert set(eager.files) == {"360p", "720p", "poster", "preview"}
    small = eager.files["360p"]
    assert small["key"] == file_key(upload_id, "360p.mp4") and small["content_type"] == "video/mp4"
    assert cloud.storage.public_url(small["key"]) == small["url"]
    assert (await cloud.http.get(small["url"])).status_code == 401  # uploaded authenticated: signed URLs only
    signed = cloud.storage.signed_url(small["key"])
    part = await cloud.http.get(signed, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100 and part.content[4:8] == b"ftyp"
    assert part.headers["content-type"] == "video/mp4" and part.headers["x-content-type-options"] == "nosniff"
    poster = await cloud.http.get(cloud.storage.signed_url(eager.files["poster"]["key"]))
    assert poster.headers["content-type"] == "image/jpeg" and poster.content[:2] == b"\xff\xd8"
    checked = await cloud.storage.notice(upload_id)  # a lost notification: the Admin API says the same
    assert checked is not None and set(checked.files) == set(eager.files)

    await cloud.storage.delete_upload(upload_id)
    assert await cloud.storage.received(upload_id) is None
    assert (await cloud.http.get(signed)).status_code == 404


async def test_a_grant_the_browser_changed_is_refused_and_nothing_is_kept(cloud: Cloud, tmp_path: Path) -> None:
    upload_id = str(uuid.uuid4())
    clip = make_clip(tmp_path / "clip.mp4").read_bytes()
    grant = cloud.storage.grant_upload(upload_id, "clip", 50 * 1024 * 1024, LATER)
    elsewhere = {**grant.fields, "public_id": f"{uuid.uuid4()}/source"}  # someone else's upload
    (refused,) = await send(cloud.http, grant, clip, chunked=False, fields=elsewhere)
    assert refused.status_code == 401 and refused.json()["error"]["message"].startswith("Invalid Signature")
    no_eager = {**grant.fields, "eager": ""}  # the renditions left out
    (refused,) = await send(cloud.http, grant, clip, chunked=False, fields=no_eager)
    assert refused.status_code == 401
    assert await cloud.storage.received(upload_id) is None
    (taken,) = await send(cloud.http, grant, clip, chunked=False)  # the grant as signed is taken
    assert taken.status_code == 200 and read_resource(taken.json()).upload_id == upload_id


async def test_a_grant_older_than_an_hour_is_refused_as_stale(cloud: Cloud, tmp_path: Path) -> None:
    old = CloudinaryStorage(ACCOUNT, cloud.http, "http://127.0.0.1:1/notify", api_base=cloud.base,
                            clock=lambda: time.time() - 3700)
    grant = old.grant_upload(str(uuid.uuid4()), "clip", 50 * 1024 * 1024, LATER)
    assert grant.expires_at < datetime.now(UTC)  # the grant says so itself
    (refused,) = await send(cloud.http, grant, make_clip(tmp_path / "clip.mp4").read_bytes(), chunked=False)
    assert refused.status_code == 400 and refused.json()["error"]["message"].startswith("Stale request")


async def test_a_text_file_is_refused_at_upload(cloud: Cloud) -> None:
    grant = cloud.storage.grant_upload(str(uuid.uuid4()), "clip", 50 * 1024 * 1024, LATER)
    (refused,) = await send(cloud.http, grant, b"not a video at all\n" * 100, chunked=False)
    assert refused.status_code == 400 and "Unsupported video format" in refused.json()["error"]["message"]


async def test_sound_alone_and_a_clip_over_a_minute_are_refused_with_the_entry_rules_words(
        cloud: Cloud, tmp_path: Path) -> None:
    voice = tmp_path / "voice.m4a"
    ffmpeg_writes(["-f", "lavfi", "-i", "sine", "-t", "1", "-c:a", "aac", "-f", "mp4", "-y", str(voice)])
    grant = cloud.storage.grant_upload(str(uuid.uuid4()), "clip", 50 * 1024 * 1024, LATER)
    (sound,) = await send(cloud.http, grant, voice.read_bytes(), chunked=False)
    assert read_resource(sound.json()).refusal == "This file has no picture: send a video clip."
    told = read_notification(await cloud.notified.notice_of("upload"))
    assert told.refusal == "This file has no picture: send a video clip." and told.made is None

    long = make_clip(tmp_path / "long.mp4", size="64x48", seconds=61, sound=False, extra=["-r", "1"])
    grant = cloud.storage.grant_upload(str(uuid.uuid4()), "clip", 50 * 1024 * 1024, LATER)
    (answer,) = await send(cloud.http, grant, long.read_bytes(), chunked=False)
    assert read_resource(answer.json()).refusal == "The clip lasts 61 seconds: at most 60."
