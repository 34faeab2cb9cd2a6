"""The photos organisers sent before photos went through the media storage: re-encoded then by the web process that
took them and kept in its host's data folder under random names (`photos/<32 hex>.jpg`, its sized copies beside as
`<name>-<width>.jpg`), named by the candidate's `photo_url` (`/photos/<name>.jpg`) with no upload behind it. Only
that host could serve one. Each is moved into the storage (media.former_photos: the moving, by a media worker that
sees the folder) as an upload of the organiser's, ready, and its candidate takes it: from then on it is served, sized
and withheld as every photo is, from any host. Until then the host holding it serves it (admin.photos)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.entries.entries_review import photo_url_of
from gateway.core.media.uploads import PHOTO_MAX_BYTES, note_access
from gateway.core.media_storage import OWN_PHOTOS, MediaStorage
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, CandidateStatus, MediaUpload, UploadKind, UploadState

NAME = re.compile(r"^[0-9a-f]{32}\.jpg$")
# Who moved it, in the audit trail: no one signed in.
MOVER = Actor(None, "media-worker", "owner")


def folder_of(data_dir: Path) -> Path:
    """Where a host kept the photos it took."""
    return data_dir / "photos"


@dataclass(frozen=True)
class FormerPhoto:
    """A candidate whose photo is still one of those: the URL its pages show."""

    candidate_id: int
    contest_id: int
    url: str

    @property
    def name(self) -> str | None:
        """Its file's name in a host's folder (None for a URL no host could have made)."""
        name = self.url.removeprefix(OWN_PHOTOS)
        return name if NAME.match(name) else None


async def former_photos(sessions: Sessions) -> list[FormerPhoto]:
    async with sessions() as session:
        rows = await session.execute(
            select(Candidate.id, Candidate.contest_id, Candidate.photo_url)
            .where(Candidate.photo_id.is_(None), Candidate.photo_url.startswith(OWN_PHOTOS, autoescape=True))
            .order_by(Candidate.id))
        return [FormerPhoto(int(candidate_id), int(contest_id), str(url)) for candidate_id, contest_id, url in rows]


async def make_room(sessions: Sessions, storage: MediaStorage, photo: FormerPhoto, now: datetime) -> uuid.UUID:
    """An upload for it, held by nothing, whose grant nobody was given: should the move stop before its candidate
    takes it (a crash, the storage failing), the orphan sweep removes it and what reached the storage a day later,
    and the next move makes another."""
    upload_id = uuid.uuid4()
    async with sessions.begin() as session:
        session.add(MediaUpload(id=upload_id, contest_id=photo.contest_id, kind=UploadKind.PHOTO, storage=storage.name,
                                msisdn=None, max_bytes=PHOTO_MAX_BYTES, expires_at=now))
    return upload_id


async def adopt(sessions: Sessions, storage: MediaStorage, photo: FormerPhoto, upload_id: uuid.UUID,
                facts: Mapping[str, Any], files: Mapping[str, Mapping[str, str]], now: datetime) -> bool:
    """The upload, its files in the storage, ready and its candidate's, if the candidate still shows the former
    photo (False where an organiser set another meanwhile: the upload stays held by nothing, for the sweep)."""
    async with sessions.begin() as session:
        row = await session.get(Candidate, photo.candidate_id, with_for_update=True)
        upload = await session.get(MediaUpload, upload_id, with_for_update=True)
        if (row is None or upload is None or row.photo_id is not None or row.photo_url != photo.url
                or upload.state is not UploadState.GRANTED):
            return False
        upload.state, upload.size_bytes = UploadState.READY, int(facts.get("bytes", 0)) or None
        # The URL it had is kept: a link to it (a page still open, a shared preview) is sent to where it is now.
        upload.facts = {**facts, "former_url": photo.url}
        upload.files = {name: dict(file) for name, file in files.items()}
        upload.attached_at = now
        row.photo_id, row.photo_url = upload.id, photo_url_of(upload, storage)
        await note_access(session, upload.id)  # a hidden candidate's is withheld on the storage's links too
        await audit.record(session, MOVER, "candidate.photo", f"candidate:{row.id}",
                           before={"photo": None, "photo_url": photo.url},
                           after={"photo": str(upload.id), "photo_url": row.photo_url},
                           details={"moved": "into the media storage"})
    return True


async def moved_to(sessions: Sessions, url: str) -> str | None:
    """Where a former photo's URL now leads: the photo of the shown candidate that took it, while it still holds
    that photo (None once replaced or hidden, or never moved)."""
    async with sessions() as session:
        return await session.scalar(
            select(Candidate.photo_url).join(MediaUpload, MediaUpload.id == Candidate.photo_id)
            .where(MediaUpload.facts.contains({"former_url": url}), Candidate.status != CandidateStatus.HIDDEN)
            .limit(1))
