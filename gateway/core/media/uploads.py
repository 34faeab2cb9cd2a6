"""An uploaded file's life: granted, received (the storage says so), then ready or refused once probed.

The storage's word moves an upload to `received` (its notification, or the service asking it); a job probes and
transcodes it (media.processing) and says `ready` with the files it made, or `refused` with a reason the
candidate is shown. Each step is idempotent: a notification repeated, a job run twice, change nothing more."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.media_storage import MediaStorage, UploadGrant
from gateway.core.outbox import emit
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import (
    Candidate,
    CandidateStatus,
    Entry,
    EntryStatus,
    MediaUpload,
    UploadKind,
    UploadState,
)

UPLOAD_RECEIVED_TOPIC = "upload.received"  # the worker queues the file's probe and transcode
# Whether viewers may fetch an upload's files changed (an entry approved, a candidate hidden or shown, a clip or
# photo replaced): the worker tells the storage (`MediaStorage.withhold`) what is true then.
MEDIA_ACCESS_TOPIC = "media.access"
CLIP_VISIBILITY_TOPIC = "candidate.clip_visibility"  # the former topic, per candidate: rows already queued
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
    def of(cls, upload: MediaUpload, storage: MediaStorage, *, signed: bool = False,
           taken_down: bool = False) -> UploadView:
        """`signed`: short-lived links that work whether or not viewers may have the files (what the candidate
        and the organiser are shown of an entry), unless they are taken down (`access_to`); otherwise the public
        URLs, which work only while they may. `taken_down`: no links at all, since none would play."""
        files = {} if taken_down else upload.files or {}
        urls = {name: storage.signed_url(made["key"]) if signed else made.get("url") or storage.public_url(made["key"])
                for name, made in files.items()}
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


async def made_here(sessions: Sessions, storage: MediaStorage, contest_id: int, kind: UploadKind,
                    now: datetime) -> uuid.UUID:
    """An upload the service makes itself (the demo's clips and photos): no grant given out, nobody's number. Its
    maker puts the file where the storage keeps what it received and notes it received (`note_received`): it is
    processed as any upload is."""
    upload_id = uuid.uuid4()
    async with sessions.begin() as session:
        session.add(MediaUpload(id=upload_id, contest_id=contest_id, kind=kind, storage=storage.name, msisdn=None,
                                max_bytes=MAX_BYTES[kind], expires_at=now))
    return upload_id


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
    """Uploads nothing holds, let go more than a day ago (never taken, a replaced clip or photo, a rejected
    entry's): their files go. The day is the grace in which an organiser may still look at them."""
    async with sessions() as session:
        rows = await session.scalars(
            select(MediaUpload.id).where(MediaUpload.attached_at.is_(None), MediaUpload.removed_at.is_(None),
                                         MediaUpload.updated_at < now - ORPHAN_AFTER,
                                         ~exists().where(or_(Candidate.clip_id == MediaUpload.id,
                                                             Candidate.photo_id == MediaUpload.id)))
            .order_by(MediaUpload.updated_at).limit(limit))
        return list(rows)


async def forget(sessions: Sessions, upload_id: uuid.UUID, now: datetime) -> bool:
    """An upload whose files are gone: its row removed, or kept as removed where an entry still names it; False
    when something took it meanwhile."""
    async with sessions.begin() as session:
        named = exists().where(or_(Entry.clip_id == upload_id, Entry.photo_id == upload_id))
        gone = await session.scalar(delete(MediaUpload).where(
            MediaUpload.id == upload_id, MediaUpload.attached_at.is_(None), ~named).returning(MediaUpload.id))
        if gone is None:
            gone = await session.scalar(update(MediaUpload).where(
                MediaUpload.id == upload_id, MediaUpload.attached_at.is_(None), MediaUpload.removed_at.is_(None))
                .values(removed_at=now, files=None).returning(MediaUpload.id))
    return gone is not None


async def note_access(session: AsyncSession, *upload_ids: uuid.UUID | None) -> None:
    """In the transaction that changes who may fetch these uploads' files: the storage is told after it commits,
    from what is true then (a late or repeated delivery applies what is, not what was)."""
    for upload_id in dict.fromkeys(upload_ids):
        if upload_id is not None:
            await emit(session, MEDIA_ACCESS_TOPIC, upload_id=str(upload_id))


async def note_candidate_media(session: AsyncSession, candidate: Candidate) -> None:
    """A candidate hidden or shown again: their clip and photo with them."""
    await note_access(session, candidate.clip_id, candidate.photo_id)


async def give_candidate(sessions: Sessions, candidate_id: int, clip_id: uuid.UUID, photo_id: uuid.UUID | None,
                         now: datetime) -> bool:
    """Uploads of the service's own (`made_here`) as a candidate's clip and photo, where the candidate has none
    yet (an organiser's photo is kept): False if it had a clip already, the uploads then left to the orphan sweep.
    Shown once ready, to whoever may see the candidate; the photo's address is set when it is (`photo_ready`)."""
    async with sessions.begin() as session:
        candidate = await session.get(Candidate, candidate_id, with_for_update=True)
        if candidate is None or candidate.clip_id is not None:
            return False
        candidate.clip_id = clip_id
        given = [clip_id]
        if photo_id is not None and candidate.photo_id is None and candidate.photo_url is None:
            candidate.photo_id = photo_id
            given.append(photo_id)
        await session.execute(update(MediaUpload).where(MediaUpload.id.in_(given)).values(attached_at=now))
        await note_access(session, *given)
    return True


async def candidate_media(sessions: Sessions, candidate_id: int) -> list[uuid.UUID]:
    """A candidate's clip and photo uploads (a former topic's rows name the candidate)."""
    async with sessions() as session:
        candidate = await session.get(Candidate, candidate_id)
    return [] if candidate is None else [i for i in (candidate.clip_id, candidate.photo_id) if i is not None]


class Access(StrEnum):
    """Who may fetch an upload's files, on which links."""

    PUBLIC = "public"  # anyone, at its plain address: a shown candidate's clip or photo
    SIGNED = "signed"  # only on a signed link (the candidate's and the organiser's view of a pending entry)
    TAKEN_DOWN = "taken_down"  # nobody, on no link: a hidden candidate's, a rejected entry's, a replaced file


async def access_to(sessions: Sessions, upload_id: uuid.UUID) -> Access:
    """Who may fetch an upload's files now, in one statement of its own (no transaction around it: the media
    server asks it at every request, so a takedown holds from its commit on every link handed out before it).

    A file is held by the candidate that names it, or by the pending entry that does; nothing else keeps it up. So
    taken down: a hidden candidate's, a rejected entry's, and a file no holder names any more (a clip replaced by
    its candidate or an organiser, an entry's photo an organiser replaced) or whose files the sweep removed; a
    link given once a candidate is shown again works again."""
    names = or_(Candidate.clip_id == upload_id, Candidate.photo_id == upload_id)
    hidden = Candidate.status == CandidateStatus.HIDDEN
    pending = exists().where(or_(Entry.clip_id == upload_id, Entry.photo_id == upload_id),
                             Entry.status == EntryStatus.PENDING)
    removed = exists().where(MediaUpload.id == upload_id, MediaUpload.removed_at.is_not(None))
    async with autocommit(sessions) as session:
        shown, down, held = (await session.execute(select(
            exists().where(names, ~hidden), or_(exists().where(names, hidden), removed), pending))).one()
    return Access.TAKEN_DOWN if down else Access.PUBLIC if shown else Access.SIGNED if held else Access.TAKEN_DOWN


async def served_publicly(sessions: Sessions, upload_id: uuid.UUID) -> bool:
    """Whether viewers may fetch an upload's files without a signed link: it is the clip or the photo of a
    candidate who is shown. Nothing of a pending or rejected entry, of a hidden candidate, nor a replaced file."""
    async with sessions() as session:
        shown = await session.scalar(select(exists().where(
            or_(Candidate.clip_id == upload_id, Candidate.photo_id == upload_id),
            Candidate.status != CandidateStatus.HIDDEN)))
    return bool(shown)
