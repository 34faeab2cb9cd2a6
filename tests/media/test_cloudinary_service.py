"""The service on Cloudinary (`MEDIA_STORAGE=cloudinary`), its stand-in speaking Cloudinary's upload API: a
candidate's grant is Cloudinary's signed upload; Cloudinary's signed notifications move the upload on (received,
then ready with the renditions it made, no ffmpeg job of ours); a notification not signed by the account, or
replayed late, moves nothing; a lost one is made up for by asking the Admin API."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from PIL import Image
from redis.asyncio import Redis
from sqlalchemy import select, update

from assembly.resources.media import build_storage
from assembly.resources.providers import build_providers
from assembly.worker.job_runtime import JobContext
from assembly.worker.worker_jobs import deliver_outbox
from gateway.core.audit import Actor
from gateway.core.contests.contests_admin import set_candidate_status
from gateway.core.entries.entering import entry_view, grant_upload
from gateway.core.entries.entries_review import approve_entries, list_entries, reject_entry
from gateway.core.media import uploads
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, Entry, MediaUpload, OutboxMessage, UploadState
from media.cloudinary import CloudinaryStorage
from media.cloudinary_api import notification_signature
from media.cloudinary_store import Store
from media.sweep import files_sweep, media_sweep
from media.upload_access import on_media_access
from tests.core.entries.test_entering import open_call
from tests.media.conftest import ACCOUNT, OnCloudinary
from tests.media.test_processing import make_clip
from tests.provider_registry import registry_of

PHONE = "+237670003344"
OWNER = Actor(None, "owner@example.org", "owner")


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
    clip = make_clip(tmp_path / "clip.mp4").read_bytes()
    sent = await on_cloudinary.http.post(grant.url, data=dict(grant.fields),
                                         files={"file": ("clip.mp4", clip, "video/mp4")})
    assert sent.status_code == 200, sent.text
    upload = await state_of(sessions, grant.upload_id, UploadState.READY)
    assert upload.state is UploadState.READY and upload.size_bytes == len(clip)
    assert upload.files is not None and {"360p", "poster"} <= set(upload.files)
    # Nothing of an entry is public before approval: the candidate and the organiser watch it on a signed URL.
    assert (await on_cloudinary.http.get(upload.files["360p"]["url"])).status_code == 401
    signed = on_cloudinary.storage.signed_url(upload.files["360p"]["key"])
    playable = await on_cloudinary.http.get(signed, headers={"Range": "bytes=0-9"})
    assert playable.status_code == 206 and playable.headers["content-type"] == "video/mp4"
    forged = signed.replace("/s--", "/s--x")
    assert (await on_cloudinary.http.get(forged)).status_code == 401


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
        clip = make_clip(tmp_path / "clip.mp4").read_bytes()
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
        too_long = make_clip(tmp_path / "long.mp4", size="64x48", seconds=61, sound=False,
                             extra=["-r", "1"]).read_bytes()
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
    clip = make_clip(tmp_path / "clip.mp4").read_bytes()
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
    ctx = job_context(on_cloudinary, sessions, redis)
    await on_media_access(ctx, {"upload_id": str(upload.id)})  # as its approval tells: public from now on
    assert (await on_cloudinary.http.get(kept_link)).status_code == 200
    await set_candidate_status(sessions, OWNER, candidate.id, "hidden")
    await deliver_notices(ctx, sessions)
    assert (await on_cloudinary.http.get(kept_link)).status_code == 404  # renamed: the link names nothing
    await set_candidate_status(sessions, OWNER, candidate.id, "eliminated")  # shown again, without votes
    await deliver_notices(ctx, sessions)
    async with asyncio.timeout(120):  # its renditions made again in the background
        while (await on_cloudinary.http.get(kept_link)).status_code != 200:
            await asyncio.sleep(0.2)


def job_context(on_cloudinary: OnCloudinary, sessions: Sessions, redis: Redis) -> JobContext:
    registry = build_providers(on_cloudinary.settings, on_cloudinary.http)
    return JobContext(on_cloudinary.settings, sessions, redis, registry, {}, {}, on_cloudinary.storage)


async def deliver_notices(ctx: JobContext, sessions: Sessions) -> None:
    """The worker's delivery of the outbox rows that tell the storage who may fetch a file."""
    async with sessions.begin() as session:
        notices = list(await session.scalars(select(OutboxMessage).where(
            OutboxMessage.topic == uploads.MEDIA_ACCESS_TOPIC, OutboxMessage.delivered_at.is_(None))))
        for notice in notices:
            await on_media_access(ctx, notice.payload)
            notice.delivered_at = datetime.now(UTC)


async def a_ready_entry(on_cloudinary: OnCloudinary, sessions: Sessions, slug: str, phone: str,
                        clip: bytes) -> Entry:
    """A pending entry whose clip Cloudinary made ready."""
    grant = await grant_upload(sessions, on_cloudinary.storage, slug, phone, "clip", datetime.now(UTC))
    sent = await on_cloudinary.http.post(grant.url, data=dict(grant.fields),
                                         files={"file": ("clip.mp4", clip, "video/mp4")})
    assert sent.status_code == 200, sent.text
    upload = await state_of(sessions, grant.upload_id, UploadState.READY)
    assert upload.state is UploadState.READY
    async with sessions.begin() as session:
        row = await session.get(MediaUpload, upload.id)
        assert row is not None
        row.attached_at = datetime.now(UTC)
        entry = Entry(id=uuid.uuid4(), contest_id=upload.contest_id, name="Awa", msisdn=phone, language="en",
                      rules_accepted_at=datetime.now(UTC), clip_id=upload.id, token_digest="0" * 64)
        session.add(entry)
    return entry


async def test_on_cloudinary_an_approved_clip_goes_public_and_a_rejected_ones_files_are_deleted_a_day_later(
        on_cloudinary: OnCloudinary, sessions: Sessions, redis: Redis, tmp_path: Path) -> None:
    contest = await open_call(sessions)
    clip = make_clip(tmp_path / "clip.mp4").read_bytes()
    approved = await a_ready_entry(on_cloudinary, sessions, contest.slug, PHONE, clip)
    rejected = await a_ready_entry(on_cloudinary, sessions, contest.slug, "+237670003345", clip)
    storage, ctx = on_cloudinary.storage, job_context(on_cloudinary, sessions, redis)
    public = [storage.public_url(f"{entry.clip_id}/360p.mp4") for entry in (approved, rejected)]
    assert [(await on_cloudinary.http.get(url)).status_code for url in public] == [401, 401]
    await approve_entries(sessions, storage, OWNER, [approved.id], datetime.now(UTC))
    await reject_entry(sessions, OWNER, rejected.id, "Not your own song.", datetime.now(UTC))
    await deliver_notices(ctx, sessions)
    assert [(await on_cloudinary.http.get(url)).status_code for url in public] == [200, 404]  # taken down
    async with sessions.begin() as session:  # a day and a bit later
        await session.execute(update(MediaUpload).where(MediaUpload.id == rejected.clip_id)
                              .values(updated_at=datetime.now(UTC) - timedelta(days=1, minutes=1)))
    kept = Store(tmp_path / "cloudinary")  # the stand-in's own files
    assert kept.public_ids("video", f"{rejected.clip_id}/") == [f"{rejected.clip_id}/withheld"]
    assert await files_sweep(ctx) == "removed 1"
    assert kept.public_ids("video", f"{rejected.clip_id}/") == []  # deleted at Cloudinary, renditions and all
    assert await storage.resource(str(approved.clip_id)) is not None
    gone = await on_cloudinary.http.get(storage.signed_url(f"{rejected.clip_id}/360p.mp4"))
    assert gone.status_code == 404


async def test_on_cloudinary_a_photo_made_ready_after_its_entry_was_approved_becomes_the_candidates(
        on_cloudinary: OnCloudinary, sessions: Sessions, tmp_path: Path) -> None:
    contest = await open_call(sessions)
    entry = await a_ready_entry(on_cloudinary, sessions, contest.slug, PHONE,
                                make_clip(tmp_path / "clip.mp4").read_bytes())
    grant = await grant_upload(sessions, on_cloudinary.storage, contest.slug, PHONE, "photo", datetime.now(UTC))
    async with sessions.begin() as session:
        await session.execute(update(Entry).where(Entry.id == entry.id).values(photo_id=uuid.UUID(grant.upload_id)))
    [candidate] = await approve_entries(sessions, on_cloudinary.storage, OWNER, [entry.id], datetime.now(UTC))
    assert candidate.photo_url is None  # approved while the photo was on its way
    picture = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 80, 40)).save(picture, "JPEG")
    sent = await on_cloudinary.http.post(grant.url, data=dict(grant.fields),
                                         files={"file": ("me.jpg", picture.getvalue(), "image/jpeg")})
    assert sent.status_code == 200, sent.text
    photo = await state_of(sessions, grant.upload_id, UploadState.READY)
    assert photo.state is UploadState.READY and photo.files is not None
    assert await photo_url_of(sessions, candidate.id) == photo.files["photo"]["url"]


async def photo_url_of(sessions: Sessions, candidate_id: int, seconds: float = 15) -> str | None:
    """The candidate's photo once it has one (noted in the same notification's handling, just after the upload's
    readiness), or None after `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                async with sessions() as session:
                    url = await session.scalar(select(Candidate.photo_url).where(Candidate.id == candidate_id))
                if url is not None:
                    return url
                await asyncio.sleep(0.1)
    except TimeoutError:
        return None


async def a_photo(on_cloudinary: OnCloudinary, sessions: Sessions, slug: str, phone: str) -> MediaUpload:
    """A photo Cloudinary made ready."""
    grant = await grant_upload(sessions, on_cloudinary.storage, slug, phone, "photo", datetime.now(UTC))
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 80, 40)).save(picture, "JPEG")
    sent = await on_cloudinary.http.post(grant.url, data=dict(grant.fields),
                                         files={"file": ("me.jpg", picture.getvalue(), "image/jpeg")})
    assert sent.status_code == 200, sent.text
    return await state_of(sessions, grant.upload_id, UploadState.READY)


async def an_entry_and_its_token(on_cloudinary: OnCloudinary, sessions: Sessions, slug: str, phone: str,
                                 clip: bytes) -> tuple[Entry, str]:
    """A pending entry with a ready clip and photo, and the token of its private link."""
    entry = await a_ready_entry(on_cloudinary, sessions, slug, phone, clip)
    photo, token = await a_photo(on_cloudinary, sessions, slug, phone), uuid.uuid4().hex
    async with sessions.begin() as session:
        await session.execute(update(Entry).where(Entry.id == entry.id).values(
            photo_id=photo.id, token_digest=hashlib.sha256(token.encode()).hexdigest()))
        await session.execute(update(MediaUpload).where(MediaUpload.id == photo.id)
                              .values(attached_at=datetime.now(UTC)))
    entry.photo_id = photo.id
    return entry, token


async def run_access_jobs(ctx: JobContext, sessions: Sessions) -> None:
    """The worker's jobs for the rows that tell the storage who may fetch a file, each run to its end."""
    async with sessions() as session:
        rows = list(await session.scalars(select(OutboxMessage.id).where(
            OutboxMessage.topic == uploads.MEDIA_ACCESS_TOPIC, OutboxMessage.delivered_at.is_(None))))
    for outbox_id in rows:
        assert await deliver_outbox(ctx, outbox_id)


async def public_urls(sessions: Sessions, upload_id: uuid.UUID | None) -> list[str]:
    """The addresses of what Cloudinary made of an upload, as its eager notice gave them (a candidate page's)."""
    upload = await uploads.upload_of(sessions, upload_id) if upload_id else None
    assert upload is not None and upload.files
    return [made["url"] for made in upload.files.values()]


async def statuses(http: httpx.AsyncClient, links: list[str]) -> list[int]:
    return [(await http.get(link)).status_code for link in links]


async def view_links(sessions: Sessions, storage: CloudinaryStorage, entry: Entry, token: str) -> list[str]:
    """The signed links the entry's own page hands out: its clip's renditions and poster, its photo."""
    view = await entry_view(sessions, storage, registry_of(), entry.id, token)
    assert view.photo is not None
    return [*view.clip.urls.values(), *view.photo.urls.values()]


async def test_on_cloudinary_hiding_a_candidate_refuses_every_link_handed_out_and_showing_it_gives_working_ones(
        on_cloudinary: OnCloudinary, sessions: Sessions, redis: Redis, tmp_path: Path) -> None:
    contest = await open_call(sessions)
    clip = make_clip(tmp_path / "clip.mp4").read_bytes()
    entry, token = await an_entry_and_its_token(on_cloudinary, sessions, contest.slug, PHONE, clip)
    storage, ctx = on_cloudinary.storage, job_context(on_cloudinary, sessions, redis)
    [candidate] = await approve_entries(sessions, storage, OWNER, [entry.id], datetime.now(UTC))
    await run_access_jobs(ctx, sessions)
    signed = await view_links(sessions, storage, entry, token)
    assert len(signed) == 5 and all("/s--" in link for link in signed)  # 360p, 720p, poster, preview, photo
    public = [*await public_urls(sessions, entry.clip_id), *await public_urls(sessions, entry.photo_id)]
    assert await statuses(on_cloudinary.http, signed + public) == [200] * 10
    await set_candidate_status(sessions, OWNER, candidate.id, "hidden")  # as the admin API's PATCH does
    await run_access_jobs(ctx, sessions)  # the takedown's job, waited for
    assert await statuses(on_cloudinary.http, signed + public) == [404] * 10  # signed (they never expire) or not
    assert await view_links(sessions, storage, entry, token) == []
    await set_candidate_status(sessions, OWNER, candidate.id, "active")  # shown again
    await run_access_jobs(ctx, sessions)
    fresh = await view_links(sessions, storage, entry, token)
    assert len(fresh) == 5
    async with asyncio.timeout(120):  # Cloudinary makes the renditions again in the background (`explicit`)
        while await statuses(on_cloudinary.http, fresh + public) != [200] * 10:
            await asyncio.sleep(0.2)


async def test_on_cloudinary_rejecting_an_entry_refuses_the_signed_links_its_candidate_and_organiser_were_given(
        on_cloudinary: OnCloudinary, sessions: Sessions, redis: Redis, tmp_path: Path) -> None:
    contest = await open_call(sessions)
    clip = make_clip(tmp_path / "clip.mp4").read_bytes()
    entry, token = await an_entry_and_its_token(on_cloudinary, sessions, contest.slug, PHONE, clip)
    storage, ctx = on_cloudinary.storage, job_context(on_cloudinary, sessions, redis)
    [row] = await list_entries(sessions, storage, OWNER, entry.contest_id)  # the organiser's review queue
    handed_out = [*await view_links(sessions, storage, entry, token), *row.clip.urls.values()]
    assert await statuses(on_cloudinary.http, handed_out) == [200] * len(handed_out)
    await reject_entry(sessions, OWNER, entry.id, "Not your own song.", datetime.now(UTC))
    await run_access_jobs(ctx, sessions)
    assert await statuses(on_cloudinary.http, handed_out) == [404] * len(handed_out)
