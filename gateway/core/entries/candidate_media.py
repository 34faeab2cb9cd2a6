"""An organiser's own clip or photo for a candidate: an upload granted to no phone, sent from the organiser's browser
straight to the media storage and prepared by the media worker like an entry's, then set as the candidate's once
ready. No file passes through a web process: the web only grants, follows and sets."""

from __future__ import annotations

import uuid
from datetime import datetime

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.contests.contests_admin import candidate_of
from gateway.core.entries.entries_review import photo_url_of
from gateway.core.errors import Conflict, DomainError
from gateway.core.media.uploads import ORPHAN_AFTER, note_access
from gateway.core.media_storage import MediaStorage
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, MediaUpload, UploadKind, UploadState

# What the organiser calls each kind, in errors, audit entries and the API's paths.
NOUNS = {UploadKind.CLIP: "clip", UploadKind.PHOTO: "photo"}


async def set_candidate_media(sessions: Sessions, storage: MediaStorage, actor: Actor, candidate_id: int,
                              kind: UploadKind, upload_id: uuid.UUID, now: datetime) -> Candidate:
    """The candidate's clip or photo (`kind`) from now on: an upload of the organiser's that is ready. The former
    one is withheld at once and let go (the orphan sweep removes it a day later)."""
    noun = NOUNS[kind]
    candidate = await candidate_of(sessions, actor, candidate_id)
    async with sessions.begin() as session:
        upload = await session.get(MediaUpload, upload_id, with_for_update=True)
        # An organiser's own upload (granted to no phone), young enough that the orphan sweep cannot be removing it.
        if (upload is None or upload.contest_id != candidate.contest_id or upload.kind is not kind
                or upload.attached_at is not None or upload.msisdn is not None
                or upload.created_at < now - ORPHAN_AFTER / 2):
            raise DomainError(f"No such {noun} upload for this contest.", code="unknown_upload", field=noun)
        if upload.state is not UploadState.READY:
            raise Conflict(f"That {noun} is not ready yet (or was refused).", code=f"{noun}_not_ready", field=noun)
        row = await session.get(Candidate, candidate.id, with_for_update=True)
        assert row is not None
        before_id = row.clip_id if kind is UploadKind.CLIP else row.photo_id
        before: dict[str, str | None] = {noun: str(before_id) if before_id else None}
        after: dict[str, str | None] = {noun: str(upload.id)}
        if before_id is not None:
            former = await session.get(MediaUpload, before_id)
            if former is not None:
                former.attached_at = None
        if kind is UploadKind.CLIP:
            row.clip_id = upload.id
        else:
            # A photo the organiser sent before photos went through the storage is named by its URL alone.
            before["photo_url"] = row.photo_url
            row.photo_id, row.photo_url = upload.id, photo_url_of(upload, storage)
            after["photo_url"] = row.photo_url
        upload.attached_at = now
        await note_access(session, before_id, upload.id)  # the former withheld at once; the new one as its candidate
        await audit.record(session, actor, f"candidate.{noun}", f"candidate:{row.id}", before=before, after=after)
    return row
