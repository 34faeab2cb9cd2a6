"""An uploaded file's life: granted, received (the storage says so), then ready or refused once probed.

The storage's word moves an upload to `received` (its notification, or the service asking it); a job probes and
transcodes it (media.processing) and says `ready` with the files it made, or `refused` with a reason the
candidate is shown. Each step is idempotent: a notification repeated, a job run twice, change nothing more."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.media_storage import MediaStorage, UploadGrant
from gateway.core.orders.tables import emit
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, CandidateStatus, Entry, MediaUpload, UploadKind, UploadState

UPLOAD_RECEIVED_TOPIC = "upload.received"  # the worker queues the file's probe and transcode
# A candidate hidden or shown again, or their clip changed: the worker tells the storage (`MediaStorage.withhold`).
CLIP_VISIBILITY_TOPIC = "candidate.clip_visibility"
CLIP_MAX_BYTES = 50 * 1024 * 1024
PHOTO_MAX_BYTES = 5 * 1024 * 1024
MAX_BYTES = {UploadKind.CLIP: CLIP_MAX_BYTES, UploadKind.PHOTO: PHOTO_MAX_BYTES}
# Long enough for 50 MB on a slow 3G link that drops and goes on (at 200 kbit/s: 35 minutes); a grant
# stolen later is worthless.
GRANT_SECONDS = 2 * 3600
ORPHAN_AFTER = timedelta(days=1)
# A received upload no job took within this long is queued again (a lost enqueue, a worker killed mid-job).
PROCESSING_LATE_AFTER = timedelta(minutes=15)
# One still not prepared after this long never will be (a storage's renditions that failed): it is refused, so the
# candidate sees why and can send another, and nobody asks about it every few minutes for ever.
PROCESSING_ABANDONED_AFTER = timedelta(hours=6)


@dataclass(frozen=True)
class UploadView:
    """An upload as a page shows it: its state, a refusal's reason, and the URLs of what was made."""

    id: uuid.UUID
    kind: UploadKind
    state: UploadState
    refusal: str | None
    urls: Mapping[str, str]
    facts: Mapping[str, Any]

    @classmethod
    def of(cls, upload: MediaUpload, storage: MediaStorage) -> UploadView:
        files = upload.files or {}
        urls = {name: made.get("url") or storage.public_url(made["key"]) for name, made in files.items()}
        return cls(upload.id, upload.kind, upload.state, upload.refusal, urls, upload.facts or {})


async def grant(sessions: Sessions, storage: MediaStorage, contest_id: int, kind: UploadKind,
                msisdn: str | None, now: datetime) -> UploadGrant:
    """A new upload row and the storage's signed grant for it."""
    upload_id = uuid.uuid4()
    expires_at = now + timedelta(seconds=GRANT_SECONDS)
    async with sessions.begin() as session:
        session.add(MediaUpload(id=upload_id, contest_id=contest_id, kind=kind, storage=storage.name,
                                msisdn=msisdn, max_bytes=MAX_BYTES[kind], expires_at=expires_at))
    return storage.grant_upload(str(upload_id), kind.value, MAX_BYTES[kind], expires_at)


async def note_received(sessions: Sessions, upload_id: uuid.UUID, size_bytes: int, *,
                        storage_transcodes: bool = False) -> bool:
    """The storage holds the whole file: True the first time. Its processing is queued in the same transaction
    (an outbox row, `upload.received`), unless the storage makes the renditions itself."""
    async with sessions.begin() as session:
        moved = await session.scalar(
            update(MediaUpload).where(MediaUpload.id == upload_id, MediaUpload.state == UploadState.GRANTED)
            .values(state=UploadState.RECEIVED, size_bytes=size_bytes).returning(MediaUpload.id))
        if moved is not None and not storage_transcodes:
            await emit(session, UPLOAD_RECEIVED_TOPIC, upload_id=str(upload_id))
    return moved is not None


async def check_received(sessions: Sessions, storage: MediaStorage, upload: MediaUpload) -> bool:
    """Whether the storage has an upload the service has not heard of yet (asking it), noting it if so."""
    if upload.state is not UploadState.GRANTED:
        return True
    found = await storage.received(str(upload.id))
    if found is None or found.size_bytes > upload.max_bytes:
        return False
    await note_received(sessions, upload.id, found.size_bytes, storage_transcodes=storage.transcodes)
    return True


async def note_ready(sessions: Sessions, upload_id: uuid.UUID, facts: Mapping[str, Any],
                     files: Mapping[str, Mapping[str, str]]) -> bool:
    async with sessions.begin() as session:
        done = await session.scalar(
            update(MediaUpload).where(MediaUpload.id == upload_id, MediaUpload.state == UploadState.RECEIVED)
            .values(state=UploadState.READY, facts=dict(facts), files={k: dict(v) for k, v in files.items()})
            .returning(MediaUpload.id))
    return done is not None


async def note_refused(sessions: Sessions, upload_id: uuid.UUID, reason: str,
                       facts: Mapping[str, Any] | None = None) -> bool:
    async with sessions.begin() as session:
        done = await session.scalar(
            update(MediaUpload)
            .where(MediaUpload.id == upload_id,
                   MediaUpload.state.in_((UploadState.GRANTED, UploadState.RECEIVED)))
            .values(state=UploadState.REFUSED, refusal=reason, facts=dict(facts) if facts else None)
            .returning(MediaUpload.id))
    return done is not None


async def upload_of(sessions: Sessions, upload_id: uuid.UUID) -> MediaUpload | None:
    async with sessions() as session:
        return await session.get(MediaUpload, upload_id)


async def late_for_processing(sessions: Sessions, now: datetime) -> list[uuid.UUID]:
    """Received uploads that should have been processed by now (queued again by the sweep)."""
    async with sessions() as session:
        rows = await session.scalars(select(MediaUpload.id).where(
            MediaUpload.state == UploadState.RECEIVED, MediaUpload.updated_at < now - PROCESSING_LATE_AFTER))
        return list(rows)


async def abandon_stuck(sessions: Sessions, now: datetime, reason: str) -> list[uuid.UUID]:
    async with sessions.begin() as session:
        rows = await session.scalars(
            update(MediaUpload).where(MediaUpload.state == UploadState.RECEIVED,
                                      MediaUpload.updated_at < now - PROCESSING_ABANDONED_AFTER)
            .values(state=UploadState.REFUSED, refusal=reason).returning(MediaUpload.id))
        return list(rows)


async def orphans(sessions: Sessions, now: datetime, limit: int = 200) -> list[uuid.UUID]:
    """Uploads nobody took within a day (a candidate who gave up, a replaced clip): their files go."""
    async with sessions() as session:
        rows = await session.scalars(
            select(MediaUpload.id).where(MediaUpload.attached_at.is_(None),
                                         MediaUpload.created_at < now - ORPHAN_AFTER,
                                         ~exists().where(or_(Entry.clip_id == MediaUpload.id,
                                                             Entry.photo_id == MediaUpload.id)))
            .order_by(MediaUpload.created_at).limit(limit))
        return list(rows)


async def forget(sessions: Sessions, upload_id: uuid.UUID) -> bool:
    """Remove an orphan's row once its files are gone; False when something took it meanwhile."""
    async with sessions.begin() as session:
        gone = await session.scalar(delete(MediaUpload).where(
            MediaUpload.id == upload_id, MediaUpload.attached_at.is_(None)).returning(MediaUpload.id))
    return gone is not None


async def note_clip_visibility(session: AsyncSession, candidate: Candidate) -> None:
    """In the transaction that hides or shows a candidate (or changes their clip): the storage is told after it
    commits, from the candidate's state then (a late or repeated delivery applies what is true, not what was)."""
    if candidate.clip_id is not None:
        await emit(session, CLIP_VISIBILITY_TOPIC, candidate_id=candidate.id)


async def clip_visibility(sessions: Sessions, candidate_id: int) -> tuple[uuid.UUID, bool] | None:
    """The candidate's clip and whether it is withheld now (None: no such candidate, or no clip)."""
    async with sessions() as session:
        candidate = await session.get(Candidate, candidate_id)
    if candidate is None or candidate.clip_id is None:
        return None
    return candidate.clip_id, candidate.status is CandidateStatus.HIDDEN


async def withheld(sessions: Sessions, upload_id: uuid.UUID) -> bool:
    """Whether an upload's files are kept from viewers: it is the clip of a hidden candidate."""
    async with sessions() as session:
        hidden = await session.scalar(select(exists().where(
            Candidate.clip_id == upload_id, Candidate.status == CandidateStatus.HIDDEN)))
    return bool(hidden)
