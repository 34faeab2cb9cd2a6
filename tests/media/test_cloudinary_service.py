"""The service on Cloudinary (`MEDIA_STORAGE=cloudinary`), its stand-in speaking Cloudinary's upload API: a
candidate's grant is Cloudinary's signed upload; Cloudinary's signed notifications move the upload on (received,
then ready with the renditions it made, no ffmpeg job of ours); a notification not signed by the account, or
replayed late, moves nothing; a lost one is made up for by asking the Admin API."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import select

from assembly.app import create_app
from assembly.job_runtime import JobContext
from assembly.media import build_storage
from assembly.media_jobs import media_sweep, on_clip_visibility
from assembly.providers import build_providers
from assembly.settings import Settings
from gateway.core import uploads
from gateway.core.audit import Actor
from gateway.core.contests_admin import set_candidate_status
from gateway.core.entries import grant_upload
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, MediaUpload, OutboxMessage, UploadState
from gateway.kit.keys import MEDIA_STORAGE, STARTS
from media.cloudinary import CloudinaryStorage
from media.cloudinary_api import notification_signature
from media.cloudinary_stand_in import stand_in_app
from media.settings import parse_cloudinary_url
from tests.media.test_entering import open_call
from tests.media.test_processing import make_clip
from tests.servers import free_port

URL = "cloudinary://test-key:test-secret-for-the-service-0123@ballot-svc"
ACCOUNT = parse_cloudinary_url(URL)
PHONE = "+237670003344"


@dataclass
class OnCloudinary:
    web: str
    storage: CloudinaryStorage
    http: httpx.AsyncClient
    settings: Settings


@pytest.fixture
async def on_cloudinary(clean: None, settings: Settings, tmp_path: Path) -> AsyncIterator[OnCloudinary]:
    port = free_port()
    async with TestServer(stand_in_app(ACCOUNT, tmp_path / "cloudinary")) as stand_in:
        base = str(stand_in.make_url("")).rstrip("/")
        wired = settings.model_copy(update={
            "media_storage": "cloudinary", "cloudinary_url": SecretStr(URL), "cloudinary_api_base": base,
            "cloudinary_delivery_base": base, "public_base_url": f"http://127.0.0.1:{port}"})
        async with TestServer(create_app(wired), port=port) as server, httpx.AsyncClient(timeout=60) as http:
            storage = server.app[MEDIA_STORAGE]
            assert isinstance(storage, CloudinaryStorage)
            yield OnCloudinary(f"http://127.0.0.1:{port}", storage, http, wired)
            await server.app[STARTS].close(grace=0)


async def state_of(sessions: Sessions, upload_id: str, wanted: UploadState, seconds: float = 120) -> MediaUpload:
    async with asyncio.timeout(seconds):
        while True:
            async with sessions() as session:
                upload = await session.scalar(select(MediaUpload).where(MediaUpload.id == uuid.UUID(upload_id)))
            if upload is not None and upload.state in (wanted, UploadState.REFUSED):
                return upload
            await asyncio.sleep(0.2)


async def test_a_clip_sent_to_cloudinary_is_made_ready_by_its_signed_notifications(
        on_cloudinary: OnCloudinary, sessions: Sessions, tmp_path: Path) -> None:
    contest = await open_call(sessions)
    grant = await grant_upload(sessions, on_cloudinary.storage, contest.slug, PHONE, "clip", datetime.now(UTC))
    assert grant.protocol == "cloudinary" and grant.fields["notification_url"].startswith(on_cloudinary.web)
    clip = make_clip(tmp_path / "clip.mp4", size="640x360", seconds=2).read_bytes()
    sent = await on_cloudinary.http.post(grant.url, data=dict(grant.fields),
                                         files={"file": ("clip.mp4", clip, "video/mp4")})
    assert sent.status_code == 200, sent.text
    upload = await state_of(sessions, grant.upload_id, UploadState.READY)
    assert upload.state is UploadState.READY and upload.size_bytes == len(clip)
    assert upload.files is not None and {"360p", "poster"} <= set(upload.files)
    playable = await on_cloudinary.http.get(upload.files["360p"]["url"], headers={"Range": "bytes=0-9"})
    assert playable.status_code == 206 and playable.headers["content-type"] == "video/mp4"


async def test_a_notification_not_signed_by_the_account_or_replayed_late_moves_nothing(
        on_cloudinary: OnCloudinary, sessions: Sessions) -> None:
    contest = await open_call(sessions)
    grant = await grant_upload(sessions, on_cloudinary.storage, contest.slug, PHONE, "clip", datetime.now(UTC))
    body = json.dumps({"notification_type": "upload", "public_id": f"{grant.upload_id}/source",
                       "resource_type": "video", "format": "mp4", "bytes": 1000, "duration": 3.0, "width": 640,
                       "height": 360, "video": {"codec": "h264"}, "audio": {"codec": "aac"}}).encode()
    now = str(int(time.time()))
    late = str(int(time.time()) - 3 * 3600)
    for timestamp, secret in ((now, "another-accounts-secret"), (late, ACCOUNT.api_secret)):
        answer = await on_cloudinary.http.post(f"{on_cloudinary.web}/media/cloudinary/notify", content=body, headers={
            "X-Cld-Timestamp": timestamp, "X-Cld-Signature": notification_signature(body, timestamp, secret),
            "Content-Type": "application/json"})
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "bad_signature"
    async with sessions() as session:
        upload = await session.get(MediaUpload, uuid.UUID(grant.upload_id))
    assert upload is not None and upload.state is UploadState.GRANTED
    signed = await on_cloudinary.http.post(f"{on_cloudinary.web}/media/cloudinary/notify", content=body, headers={
        "X-Cld-Timestamp": now, "X-Cld-Signature": notification_signature(body, now, ACCOUNT.api_secret),
        "Content-Type": "application/json"})
    assert signed.status_code == 200
    async with sessions() as session:
        upload = await session.get(MediaUpload, uuid.UUID(grant.upload_id))
    assert upload is not None and upload.state is UploadState.RECEIVED


async def test_a_clip_whose_notifications_were_lost_is_made_ready_by_the_sweep(
        on_cloudinary: OnCloudinary, sessions: Sessions, redis: Redis, tmp_path: Path) -> None:
    contest = await open_call(sessions)
    lost = on_cloudinary.settings.model_copy(update={"public_base_url": "http://127.0.0.1:9"})  # nobody listens
    async with httpx.AsyncClient(timeout=60) as http:
        storage = build_storage(lost, http)
        grant = await grant_upload(sessions, storage, contest.slug, PHONE, "clip", datetime.now(UTC))
        clip = make_clip(tmp_path / "clip.mp4", size="640x360", seconds=2).read_bytes()
        sent = await http.post(grant.url, data=dict(grant.fields), files={"file": ("clip.mp4", clip, "video/mp4")})
        assert sent.status_code == 200
        assert await storage.received(grant.upload_id) is not None
        async with sessions.begin() as session:  # as if the upload's notice came and its eager one was lost
            upload = await session.get(MediaUpload, uuid.UUID(grant.upload_id))
            assert upload is not None
            upload.state, upload.size_bytes = UploadState.RECEIVED, len(clip)
            upload.updated_at = datetime.now(UTC) - timedelta(hours=1)
        ctx = JobContext(lost, sessions, redis, build_providers(lost, http), {}, {}, storage)
        async with asyncio.timeout(120):
            while (await uploads.upload_of(sessions, uuid.UUID(grant.upload_id))).state is UploadState.RECEIVED:  # type: ignore[union-attr]
                await media_sweep(ctx)  # the stand-in makes the renditions in the background: ask until made
                await asyncio.sleep(0.5)
    done = await state_of(sessions, grant.upload_id, UploadState.READY)
    assert done.state is UploadState.READY and done.files is not None and "360p" in done.files


async def test_an_eager_notice_never_makes_ready_a_clip_the_entry_rules_refuse(
        on_cloudinary: OnCloudinary, sessions: Sessions, tmp_path: Path) -> None:
    """Its upload notice lost, a clip of 61 s gets the eager one first: the length is read from the Admin API."""
    contest = await open_call(sessions)
    lost = on_cloudinary.settings.model_copy(update={"public_base_url": "http://127.0.0.1:9"})  # nobody listens
    async with httpx.AsyncClient(timeout=60) as http:
        storage = build_storage(lost, http)
        grant = await grant_upload(sessions, storage, contest.slug, PHONE, "clip", datetime.now(UTC))
        too_long = make_clip(tmp_path / "long.mp4", size="64x64", seconds=61).read_bytes()
        sent = await http.post(grant.url, data=dict(grant.fields), files={"file": ("c.mp4", too_long, "video/mp4")})
        assert sent.status_code == 200
    upload_id = grant.upload_id
    body = json.dumps({"notification_type": "eager", "public_id": f"{upload_id}/source", "resource_type": "video",
                       "eager": [{"transformation": "c_limit,w_640,h_640,vc_h264,ac_aac,br_600k/mp4",
                                  "secure_url": f"{on_cloudinary.storage.delivery_base}/x/360p.mp4", "bytes": 10}]
                       }).encode()
    now = str(int(time.time()))
    answer = await on_cloudinary.http.post(f"{on_cloudinary.web}/media/cloudinary/notify", content=body, headers={
        "X-Cld-Timestamp": now, "X-Cld-Signature": notification_signature(body, now, ACCOUNT.api_secret),
        "Content-Type": "application/json"})
    assert answer.status_code == 200
    upload = await uploads.upload_of(sessions, uuid.UUID(upload_id))
    assert upload is not None and upload.state is UploadState.REFUSED
    assert upload.refusal is not None and "61 seconds" in upload.refusal


async def test_a_hidden_candidates_clip_is_not_delivered_by_cloudinary_even_to_a_kept_link(
        on_cloudinary: OnCloudinary, sessions: Sessions, redis: Redis, tmp_path: Path) -> None:
    contest = await open_call(sessions)
    grant = await grant_upload(sessions, on_cloudinary.storage, contest.slug, PHONE, "clip", datetime.now(UTC))
    clip = make_clip(tmp_path / "clip.mp4", size="640x360", seconds=2).read_bytes()
    sent = await on_cloudinary.http.post(grant.url, data=dict(grant.fields),
                                         files={"file": ("clip.mp4", clip, "video/mp4")})
    assert sent.status_code == 200, sent.text
    upload = await state_of(sessions, grant.upload_id, UploadState.READY)
    assert upload.files is not None
    kept_link = upload.files["360p"]["url"]  # what a viewer copied from the candidate page
    async with sessions.begin() as session:
        candidate = await session.scalar(select(Candidate).where(Candidate.contest_id == contest.id,
                                                                 Candidate.code == "01"))
        assert candidate is not None
        candidate.clip_id = upload.id
    registry = build_providers(on_cloudinary.settings, on_cloudinary.http)
    ctx = JobContext(on_cloudinary.settings, sessions, redis, registry, {}, {}, on_cloudinary.storage)
    owner = Actor(None, "owner@example.org", "owner")

    async def deliver_notices() -> None:
        async with sessions.begin() as session:
            notices = list(await session.scalars(select(OutboxMessage).where(
                OutboxMessage.topic == uploads.CLIP_VISIBILITY_TOPIC, OutboxMessage.delivered_at.is_(None))))
            for notice in notices:
                await on_clip_visibility(ctx, notice.payload)  # the worker's delivery
                notice.delivered_at = datetime.now(UTC)

    await set_candidate_status(sessions, owner, candidate.id, "hidden")
    await deliver_notices()
    assert (await on_cloudinary.http.get(kept_link)).status_code == 401
    await set_candidate_status(sessions, owner, candidate.id, "eliminated")  # shown again, without votes
    await deliver_notices()
    assert (await on_cloudinary.http.get(kept_link)).status_code == 200
