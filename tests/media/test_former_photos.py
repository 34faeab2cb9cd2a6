"""The photos organisers sent before photos went through the media storage, kept in the data folder of the host that
took them: the media sweep moves those its host holds into the storage, where every host's pages find them, sized and
withheld as any photo; those another host holds, or a file that is no photo, stay served as before."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select, update

from assembly.worker.job_runtime import JobContext
from gateway.core.entries import former_photos
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Candidate, MediaUpload
from media.job_resources import storage_of
from media.sweep import media_sweep
from tests.admin.accounts import api_tokens, bearer, make_account
from tests.factories import make_contest
from tests.media.conftest import Entering


async def former_photo(entering: Entering, sessions: Sessions, candidate_id: int, *, held_here: bool = True,
                       data: bytes | None = None) -> str:
    """A photo as the web process kept one before: a JPEG of 800 x 600 in this host's folder (or another's), the
    candidate's URL naming it, no upload behind it. Its URL."""
    name = f"{uuid.uuid4().hex}.jpg"
    if held_here:
        folder: Path = entering.settings.gateway_data_dir / "photos"
        folder.mkdir(parents=True, exist_ok=True)
        if data is None:
            out = io.BytesIO()
            Image.effect_noise((800, 600), 60).convert("RGB").save(out, format="JPEG")
            data = out.getvalue()
        (folder / name).write_bytes(data)
    async with sessions.begin() as session:
        await session.execute(update(Candidate).where(Candidate.id == candidate_id)
                              .values(photo_url=f"/photos/{name}", photo_id=None))
    return f"/photos/{name}"


async def candidates_of(sessions: Sessions) -> list[Candidate]:
    contest = await make_contest(sessions, slug="gala", candidates=3)
    async with sessions() as session:
        return list(await session.scalars(select(Candidate).where(Candidate.contest_id == contest.id)
                                          .order_by(Candidate.code)))


async def test_the_sweep_moves_this_hosts_former_photos_into_the_storage(
        entering: Entering, media_job: JobContext, sessions: Sessions) -> None:
    here, elsewhere, _ = await candidates_of(sessions)
    former = await former_photo(entering, sessions, here.id)
    kept_elsewhere = await former_photo(entering, sessions, elsewhere.id, held_here=False)
    assert (await entering.web.get(former)).status == 200  # served by this host alone, so far
    assert await media_sweep(media_job) == "requeued 0, removed 0, former photos: 1 moved, 1 on other hosts, 0 broken"
    async with sessions() as session:
        moved, other = await session.get(Candidate, here.id), await session.get(Candidate, elsewhere.id)
        audited = await session.scalar(select(AuditEntry).where(AuditEntry.action == "candidate.photo"))
    assert moved is not None and moved.photo_id is not None and other is not None
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
    assert audited is not None and audited.actor == "media-worker"
    assert audited.before == {"photo": None, "photo_url": former}
    assert audited.after == {"photo": str(moved.photo_id), "photo_url": moved.photo_url}
    # Moved once: the next sweep finds nothing more of this host's to move, and makes no upload.
    assert await media_sweep(media_job) == "requeued 0, removed 0"
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(MediaUpload)) == 1


async def test_a_hidden_candidates_former_photo_is_moved_withheld(
        entering: Entering, media_job: JobContext, sessions: Sessions) -> None:
    hidden, _, _ = await candidates_of(sessions)
    await former_photo(entering, sessions, hidden.id)
    owner = bearer(await api_tokens(entering.web, await make_account(sessions, "owner")))
    path = f"/api/v1/admin/candidates/{hidden.id}"
    assert (await entering.web.patch(path, json={"status": "hidden"}, headers=owner)).status == 200
    assert "former photos: 1 moved" in await media_sweep(media_job)
    async with sessions() as session:
        moved = await session.get(Candidate, hidden.id)
    assert moved is not None and moved.photo_id is not None
    assert (await entering.media.get(f"/files/{moved.photo_id}/photo.jpg")).status == 404
    assert (await entering.web.patch(path, json={"status": "active"}, headers=owner)).status == 200
    assert (await entering.media.get(f"/files/{moved.photo_id}/photo.jpg")).status == 200


async def test_a_former_file_that_is_no_photo_stays_as_it_was(
        entering: Entering, media_job: JobContext, sessions: Sessions) -> None:
    broken, _, _ = await candidates_of(sessions)
    former = await former_photo(entering, sessions, broken.id, data=b"<html>not a photo</html>")
    assert await media_sweep(media_job) == "requeued 0, removed 0, former photos: 0 moved, 0 on other hosts, 1 broken"
    async with sessions() as session:
        kept = await session.get(Candidate, broken.id)
        made = await session.scalar(select(func.count()).select_from(MediaUpload))
    assert kept is not None and (kept.photo_id, kept.photo_url) == (None, former)
    assert made == 0  # no upload for the sweep to remove, each pass
    assert (await entering.web.get(former)).status == 200  # this host serves it as before


async def test_a_photo_set_while_the_former_one_moves_is_kept(
        entering: Entering, media_job: JobContext, sessions: Sessions) -> None:
    candidate, _, _ = await candidates_of(sessions)
    former = await former_photo(entering, sessions, candidate.id)
    [photo] = await former_photos.former_photos(sessions)
    assert photo.url == former
    now = datetime.now(UTC)
    upload_id = await former_photos.make_room(sessions, storage_of(media_job), photo, now)
    # Meanwhile the organiser sets another (an older-style URL stands for it here).
    newer = await former_photo(entering, sessions, candidate.id)
    files = {"photo": {"key": f"{upload_id}/photo.jpg", "content_type": "image/jpeg"}}
    assert not await former_photos.adopt(sessions, storage_of(media_job), photo, upload_id, {"bytes": 1}, files, now)
    async with sessions() as session:
        kept = await session.get(Candidate, candidate.id)
        upload = await session.get(MediaUpload, upload_id)
    assert kept is not None and (kept.photo_id, kept.photo_url) == (None, newer)
    assert upload is not None and upload.attached_at is None  # held by nothing: the orphan sweep removes it
