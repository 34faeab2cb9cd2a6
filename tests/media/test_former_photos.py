"""The photos organisers sent before photos went through the media storage, kept in the data folder of the host that
took them: the media sweep has a media worker move those its host holds into the storage, where every host's pages
find them, sized and withheld as any photo; a link to the former URL is sent there. Those
another host holds, or a file that is no photo, stay served as before; a move cut short loses nothing."""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

from PIL import Image
from redis.asyncio import Redis
from sqlalchemy import func, select, update

from assembly.resources.media import local_storage
from assembly.resources.providers import build_providers
from assembly.worker.job_runtime import JobContext
from gateway.core.audit import Actor
from gateway.core.contests.contests_admin import set_candidate_status
from gateway.core.entries import former_photos
from gateway.core.entries.candidate_media import set_candidate_media
from gateway.core.media import uploads
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Candidate, MediaUpload, OutboxMessage, UploadKind, UploadState
from media.former_photos import move_former_photos
from media.job_resources import storage_of
from media.sweep import files_sweep, media_sweep
from media.upload_access import on_media_access
from tests.admin.accounts import api_tokens, bearer, make_account
from tests.factories import make_contest
from tests.media.conftest import Entering, OnCloudinary

OWNER = Actor(None, "owner@example.org", "owner")


def a_jpeg() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((800, 600), 60).convert("RGB").save(out, format="JPEG")
    return out.getvalue()


async def former_photo(data_dir: Path, sessions: Sessions, candidate_id: int, *, held_here: bool = True,
                       data: bytes | None = None) -> str:
    """A photo as the web process kept one before: a JPEG of 800 x 600 in this host's folder (or another's), the
    candidate's URL naming it, no upload behind it. Its URL."""
    name = f"{uuid.uuid4().hex}.jpg"
    if held_here:
        folder = data_dir / "photos"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(a_jpeg() if data is None else data)
    async with sessions.begin() as session:
        await session.execute(update(Candidate).where(Candidate.id == candidate_id)
                              .values(photo_url=f"/photos/{name}", photo_id=None))
    return f"/photos/{name}"


async def candidates_of(sessions: Sessions, slug: str = "gala") -> list[Candidate]:
    contest = await make_contest(sessions, slug=slug, candidates=3)
    async with sessions() as session:
        return list(await session.scalars(select(Candidate).where(Candidate.contest_id == contest.id)
                                          .order_by(Candidate.code)))


async def candidate(sessions: Sessions, candidate_id: int) -> Candidate:
    async with sessions() as session:
        found = await session.get(Candidate, candidate_id)
    assert found is not None
    return found


async def uploads_made(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(MediaUpload)) or 0)


async def test_the_sweep_has_a_media_worker_move_this_hosts_former_photos_into_the_storage(
        entering: Entering, media_job: JobContext, sessions: Sessions) -> None:
    here, elsewhere, _ = await candidates_of(sessions)
    data_dir = entering.settings.gateway_data_dir
    former = await former_photo(data_dir, sessions, here.id)
    kept_elsewhere = await former_photo(data_dir, sessions, elsewhere.id, held_here=False)
    assert (await entering.web.get(former)).status == 200  # served by this host alone, so far
    # The periodic sweep (any worker's) queues the move for a media worker, which decodes and has the folder.
    assert await media_sweep(media_job) == "requeued 0, files' sweep queued"
    assert await files_sweep(media_job) == "removed 0, former photos: 1 moved, 1 on other hosts, 0 broken"
    moved, other = await candidate(sessions, here.id), await candidate(sessions, elsewhere.id)
    assert moved.photo_id is not None
    assert moved.photo_url == f"{entering.settings.media_files_url}/files/{moved.photo_id}/photo.jpg"
    assert (other.photo_id, other.photo_url) == (None, kept_elsewhere)  # its own host moves it
    served = await entering.media.get(f"/files/{moved.photo_id}/photo.jpg")
    assert served.status == 200 and served.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(await served.read())) as picture:
        assert picture.size == (800, 600)
    html = await (await entering.web.get("/c/gala/01", params={"lang": "en"})).text()
    tag = re.search(r'<img class="cand-photo"[^>]*>', html)
    assert tag and "/photos/" not in html, html
    srcset = unescape(re.findall(r'srcset="([^"]*)"', tag.group(0))[0])
    for url in (entry.split()[0] for entry in srcset.split(", ")):  # the small copies, from the media server
        assert (await entering.media.get("/" + url.split("/", 3)[3])).status == 200, url
    # A link to the former URL (a page still open, a preview shared) is sent to the photo, at the same size.
    sent = await entering.web.get(former, allow_redirects=False)
    assert sent.status == 302 and sent.headers["Location"] == moved.photo_url
    small = await entering.web.get(former.replace(".jpg", "-320.jpg"), allow_redirects=False)
    assert small.status == 302 and small.headers["Location"].endswith(f"/files/{moved.photo_id}/photo-320.jpg")
    async with sessions() as session:
        audited = await session.scalar(select(AuditEntry).where(AuditEntry.action == "candidate.photo"))
    assert audited is not None and audited.actor == "media-worker"
    assert audited.before == {"photo": None, "photo_url": former}
    assert audited.after == {"photo": str(moved.photo_id), "photo_url": moved.photo_url}
    # Moved once: the next sweep finds nothing more of this host's to move, and makes no upload.
    assert await files_sweep(media_job) == "removed 0"
    assert await uploads_made(sessions) == 1


async def test_a_hidden_candidates_former_photo_is_moved_withheld(
        entering: Entering, media_job: JobContext, sessions: Sessions) -> None:
    hidden, _, _ = await candidates_of(sessions)
    former = await former_photo(entering.settings.gateway_data_dir, sessions, hidden.id)
    owner = bearer(await api_tokens(entering.web, await make_account(sessions, "owner")))
    path = f"/api/v1/admin/candidates/{hidden.id}"
    assert (await entering.web.patch(path, json={"status": "hidden"}, headers=owner)).status == 200
    assert "former photos: 1 moved" in await files_sweep(media_job)
    moved = await candidate(sessions, hidden.id)
    assert moved.photo_id is not None
    async with sessions() as session:  # a storage that cannot ask at every request is told to withhold it
        told = list(await session.scalars(select(OutboxMessage.payload).where(
            OutboxMessage.topic == uploads.MEDIA_ACCESS_TOPIC)))
    assert {"upload_id": str(moved.photo_id)} in told
    assert (await entering.media.get(f"/files/{moved.photo_id}/photo.jpg")).status == 404
    assert (await entering.web.get(former, allow_redirects=False)).status == 404  # nor sent there
    assert (await entering.web.patch(path, json={"status": "active"}, headers=owner)).status == 200
    assert (await entering.media.get(f"/files/{moved.photo_id}/photo.jpg")).status == 200


async def test_a_former_file_that_is_no_photo_stays_and_holds_up_no_other(
        entering: Entering, media_job: JobContext, sessions: Sessions) -> None:
    broken, good, _ = await candidates_of(sessions)
    data_dir = entering.settings.gateway_data_dir
    former = await former_photo(data_dir, sessions, broken.id, data=b"<html>not a photo</html>")
    await former_photo(data_dir, sessions, good.id)
    moved = await move_former_photos(sessions, storage_of(media_job), data_dir, datetime.now(UTC), limit=1)
    assert (moved.moved, moved.broken) == (1, 1)  # the one a pass may move was not spent on the broken one
    kept = await candidate(sessions, broken.id)
    assert (kept.photo_id, kept.photo_url) == (None, former)
    assert await uploads_made(sessions) == 1  # none made for it: nothing for the sweep to remove, each pass
    assert (await entering.web.get(former)).status == 200  # this host serves it as before


async def test_a_move_cut_short_by_the_storage_loses_nothing_and_the_next_one_moves_it(
        entering: Entering, media_job: JobContext, sessions: Sessions, tmp_path: Path) -> None:
    photo_of, _, _ = await candidates_of(sessions)
    data_dir = entering.settings.gateway_data_dir
    former = await former_photo(data_dir, sessions, photo_of.id)
    full = local_storage(entering.settings.model_copy(update={"gateway_data_dir": tmp_path}))
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "files").write_text("a file where the storage keeps its folders: every write fails")
    now = datetime.now(UTC)
    try:
        await move_former_photos(sessions, full, data_dir, now)
    except OSError:
        pass
    else:
        raise AssertionError("the storage's failure was not raised: the job would say it had moved the photo")
    kept = await candidate(sessions, photo_of.id)
    assert (kept.photo_id, kept.photo_url) == (None, former)
    assert (await entering.web.get(former)).status == 200
    again = await move_former_photos(sessions, storage_of(media_job), data_dir, now)
    assert again.moved == 1
    async with sessions() as session:
        left = list(await session.scalars(select(MediaUpload.id).where(MediaUpload.attached_at.is_(None))))
    assert len(left) == 1  # the first try's, held by nothing: the orphan sweep removes it a day later
    assert await uploads.orphans(sessions, now + 2 * uploads.ORPHAN_AFTER) == left


async def test_a_photo_the_organiser_sets_while_the_former_one_moves_is_kept(
        entering: Entering, media_job: JobContext, sessions: Sessions) -> None:
    chosen, _, _ = await candidates_of(sessions)
    storage, now = storage_of(media_job), datetime.now(UTC)
    former = await former_photo(entering.settings.gateway_data_dir, sessions, chosen.id)
    [photo] = await former_photos.former_photos(sessions)
    assert photo.url == former
    upload_id = await former_photos.make_room(sessions, storage, photo, now)
    # Meanwhile the organiser sets a new photo of their own (ready, as the media worker leaves one).
    theirs = uuid.uuid4()
    async with sessions.begin() as session:
        session.add(MediaUpload(id=theirs, contest_id=chosen.contest_id, kind=UploadKind.PHOTO, storage=storage.name,
                                max_bytes=1, expires_at=now, state=UploadState.READY,
                                files={"photo": {"key": f"{theirs}/photo.jpg", "content_type": "image/jpeg"}}))
    await set_candidate_media(sessions, storage, OWNER, chosen.id, UploadKind.PHOTO, theirs, now)
    files = {"photo": {"key": f"{upload_id}/photo.jpg", "content_type": "image/jpeg"}}
    assert not await former_photos.adopt(sessions, storage, photo, upload_id, {"bytes": 1}, files, now)
    kept = await candidate(sessions, chosen.id)
    assert kept.photo_id == theirs and kept.photo_url == f"{entering.settings.media_files_url}/files/{theirs}/photo.jpg"
    assert await uploads.orphans(sessions, now + 2 * uploads.ORPHAN_AFTER) == [upload_id]  # the move's, for the sweep


async def test_on_cloudinary_a_former_photo_is_moved_as_the_source_it_sizes_and_withholds(
        on_cloudinary: OnCloudinary, sessions: Sessions, redis: Redis) -> None:
    shown, _, _ = await candidates_of(sessions)
    former = await former_photo(on_cloudinary.settings.gateway_data_dir, sessions, shown.id)
    storage, http = on_cloudinary.storage, on_cloudinary.http
    ctx = JobContext(on_cloudinary.settings, sessions, redis, build_providers(on_cloudinary.settings, http), {}, {},
                     storage)
    assert await files_sweep(ctx) == "removed 0, former photos: 1 moved, 0 on other hosts, 0 broken"
    moved = await candidate(sessions, shown.id)
    assert moved.photo_url == storage.public_url(f"{moved.photo_id}/photo.jpg")  # a transformation of the source
    assert (await http.get(moved.photo_url)).status_code == 401  # authenticated until the worker is told
    async with sessions.begin() as session:  # the worker's delivery of what the move told the storage
        for notice in await session.scalars(select(OutboxMessage).where(
                OutboxMessage.topic == uploads.MEDIA_ACCESS_TOPIC, OutboxMessage.delivered_at.is_(None))):
            await on_media_access(ctx, notice.payload)
            notice.delivered_at = datetime.now(UTC)
    async with asyncio.timeout(60):  # Cloudinary makes the photo's rendition in the background
        while (served := await http.get(moved.photo_url)).status_code != 200:
            await asyncio.sleep(0.2)
    with Image.open(io.BytesIO(served.content)) as picture:
        assert picture.format == "JPEG" and picture.size == (800, 600)
    sent = await http.get(on_cloudinary.web + former, follow_redirects=False)
    assert sent.status_code == 302 and sent.headers["Location"] == moved.photo_url
    await set_candidate_status(sessions, OWNER, shown.id, "hidden")
    async with sessions.begin() as session:
        for notice in await session.scalars(select(OutboxMessage).where(
                OutboxMessage.topic == uploads.MEDIA_ACCESS_TOPIC, OutboxMessage.delivered_at.is_(None))):
            await on_media_access(ctx, notice.payload)
            notice.delivered_at = datetime.now(UTC)
    assert (await http.get(moved.photo_url)).status_code == 404  # taken down at Cloudinary
