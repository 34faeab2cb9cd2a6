"""A candidate's side of a call for entries: grants to upload, the entry itself, its status, a new clip.

Every step takes the candidate's number already proven by a one-time code (the caller checks the proof); an
entry keeps only a digest of the private link the candidate follows it with. An entry's files must be at the
storage when it is sent (the service asks the storage), and are the candidate's own: granted to that number,
for that contest, and taken by nothing else."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.contests.contest_drafts import check_candidate_fields
from gateway.core.entries.entry_fees import EntryFee, entry_fee
from gateway.core.entries.entry_slots import EntriesFull, is_full, lock_call
from gateway.core.errors import Conflict, DomainError, NotFound
from gateway.core.media.uploads import ORPHAN_AFTER, UploadView, check_received, grant, upload_of
from gateway.core.media_storage import MediaStorage, UploadGrant
from gateway.core.providers import Providers
from gateway.db.engine import Sessions
from gateway.db.models import (
    Candidate,
    CandidateStatus,
    Contest,
    ContestStatus,
    Entry,
    EntryCall,
    EntryStatus,
    MediaUpload,
    UploadKind,
    UploadState,
)

# Grants a number may take in a day: a candidate retrying a dropped upload a few times, not a free file host.
GRANTS_PER_NUMBER = 12


class EntriesClosed(Conflict):
    code = "entries_closed"


@dataclass(frozen=True)
class PublicCall:
    contest_id: int
    slug: str
    contest_name: str
    opens_at: datetime
    closes_at: datetime
    rules: str
    open_now: bool
    full: bool
    country: str  # the contest's (ISO 3166-1 alpha-2): a number typed on its form is read as its people write it
    codes_per_day: int | None = None  # the organiser's figure (None: the service's default)
    time_zone: str = "Africa/Douala"  # the contest's: its times are shown on its clock


@dataclass(frozen=True)
class EntryView:
    """What the candidate sees of their entry on its private page."""

    id: uuid.UUID
    slug: str
    contest_name: str
    status: EntryStatus
    name: str
    bio: str | None
    reason: str | None
    clip: UploadView
    photo: UploadView | None
    candidate_code: str | None
    fee: EntryFee | None  # None: entering is free


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _call(session: AsyncSession, slug: str) -> tuple[Contest, EntryCall]:
    row = (await session.execute(select(Contest, EntryCall).join(EntryCall, EntryCall.contest_id == Contest.id)
                                 .where(Contest.slug == slug))).one_or_none()
    if row is None:
        raise NotFound("This contest takes no entries.", code="no_entries")
    return row[0], row[1]


async def public_call(sessions: Sessions, slug: str, now: datetime) -> PublicCall:
    async with sessions() as session:
        contest, call = await _call(session, slug)
        full = await is_full(session, call, now)
    open_now = call.opens_at <= now < call.closes_at and contest.status is not ContestStatus.CLOSED
    return PublicCall(contest.id, contest.slug, contest.name, call.opens_at, call.closes_at, call.rules,
                      open_now, full, contest.country, call.codes_per_day, contest.time_zone)


async def grant_upload(sessions: Sessions, storage: MediaStorage, slug: str, msisdn: str, kind: str,
                       now: datetime) -> UploadGrant:
    """A grant to upload a clip or a photo for an entry (a new one, or a pending one's new clip)."""
    try:
        upload_kind = UploadKind(kind)
    except ValueError:
        raise DomainError("kind: clip or photo.", code="invalid_field", field="kind") from None
    call = await public_call(sessions, slug, now)
    if not call.open_now:
        raise EntriesClosed("Entries are not open for this contest.")
    if call.full:  # no upload for an entry that could not be sent
        raise EntriesFull()
    async with sessions() as session:
        taken = await session.scalar(select(func.count()).select_from(MediaUpload).where(
            MediaUpload.msisdn == msisdn, MediaUpload.created_at > now - ORPHAN_AFTER))
    if (taken or 0) >= GRANTS_PER_NUMBER:
        raise Conflict("Too many uploads from this number today; try again tomorrow.", code="too_many_uploads")
    return await grant(sessions, storage, call.contest_id, upload_kind, msisdn, now)


async def ask_storage(sessions: Sessions, storage: MediaStorage, *upload_ids: uuid.UUID | None) -> None:
    """Before an entry takes uploads: note those the storage has whose notification has not come (yet)."""
    for upload_id in upload_ids:
        upload = await upload_of(sessions, upload_id) if upload_id is not None else None
        if upload is not None:
            await check_received(sessions, storage, upload)


async def _own_upload(session: AsyncSession, upload_id: uuid.UUID, contest_id: int, msisdn: str,
                      kind: UploadKind, now: datetime) -> MediaUpload:
    """An upload this number was granted for this contest, that nothing took, and that the storage has."""
    upload = await session.get(MediaUpload, upload_id, with_for_update=True, populate_existing=True)
    field = kind.value
    if (upload is None or upload.contest_id != contest_id or upload.msisdn != msisdn or upload.kind is not kind
            or upload.attached_at is not None or upload.created_at < now - ORPHAN_AFTER / 2):
        raise DomainError(f"That {field} upload is not yours to use; upload it again.", code="unknown_upload",
                          field=field)
    if upload.state is UploadState.REFUSED:
        raise DomainError(f"That {field} was refused ({upload.refusal}); upload another.", code="upload_refused",
                          field=field)
    if upload.state is UploadState.GRANTED:
        raise DomainError(f"The {field} has not arrived yet; let its upload finish.", code="upload_unfinished",
                          field=field)
    upload.attached_at = now
    return upload


async def submit_entry(sessions: Sessions, storage: MediaStorage, slug: str, msisdn: str, *, name: str,
                       bio: str | None, language: str, rules_accepted: bool, clip_id: uuid.UUID,
                       photo_id: uuid.UUID | None, now: datetime) -> tuple[Entry, str]:
    """A pending entry and the token of its private link (shown once, kept only as a digest)."""
    name, bio = check_candidate_fields(name, None, bio)
    if not rules_accepted:
        raise DomainError("Accept the contest's rules to enter.", code="rules_not_accepted", field="rules")
    token = secrets.token_urlsafe(24)
    await ask_storage(sessions, storage, clip_id, photo_id)
    try:
        async with sessions.begin() as session:
            contest, call = await _call(session, slug)
            await lock_call(session, contest.id)
            await _check_open(session, contest, call, now)
            clip = await _own_upload(session, clip_id, contest.id, msisdn, UploadKind.CLIP, now)
            photo = (await _own_upload(session, photo_id, contest.id, msisdn, UploadKind.PHOTO, now)
                     if photo_id is not None else None)
            entry = Entry(id=uuid.uuid4(), contest_id=contest.id, name=name, bio=bio, msisdn=msisdn,
                          language=language, rules_accepted_at=now, clip_id=clip.id,
                          photo_id=photo.id if photo else None, token_digest=digest(token))
            session.add(entry)
            await session.flush()
    except IntegrityError:
        raise Conflict("This number has an entry in this contest already.", code="entry_exists",
                       field="msisdn") from None
    return entry, token


async def _check_open(session: AsyncSession, contest: Contest, call: EntryCall, now: datetime) -> None:
    if not (call.opens_at <= now < call.closes_at) or contest.status is ContestStatus.CLOSED:
        raise EntriesClosed("Entries are not open for this contest.")
    if await is_full(session, call, now):
        raise EntriesFull()


async def _entry(session: AsyncSession, entry_id: uuid.UUID, token: str, *, lock: bool = False) -> Entry:
    query = select(Entry).where(Entry.id == entry_id)
    entry = await session.scalar(query.with_for_update() if lock else query)
    if entry is None or not secrets.compare_digest(entry.token_digest, digest(token)):
        raise NotFound("No entry at this link.", code="entry_not_found")
    return entry


async def entry_view(sessions: Sessions, storage: MediaStorage, providers: Providers, entry_id: uuid.UUID,
                     token: str) -> EntryView:
    """The entry its private link names, as its candidate sees it (`providers`: which may pay its fee)."""
    async with sessions() as session:
        entry = await _entry(session, entry_id, token)
        return await view_of(session, storage, providers, entry)


async def view_of(session: AsyncSession, storage: MediaStorage, providers: Providers, entry: Entry) -> EntryView:
    contest = await session.get(Contest, entry.contest_id)
    candidate = await session.get(Candidate, entry.candidate_id) if entry.candidate_id else None
    # Once a candidate, what it holds now: a clip or photo an organiser replaced is taken down (`access_to`).
    clip_id = candidate.clip_id if candidate is not None and candidate.clip_id is not None else entry.clip_id
    photo_id = candidate.photo_id if candidate is not None else entry.photo_id
    clip = await session.get(MediaUpload, clip_id)
    photo = await session.get(MediaUpload, photo_id) if photo_id else None
    assert contest is not None and clip is not None
    # Its files taken down (`uploads.access_to`): no link is handed out; shown again, the next view gives fresh ones.
    hidden = candidate is not None and candidate.status is CandidateStatus.HIDDEN
    down = entry.status is EntryStatus.REJECTED or hidden
    return EntryView(entry.id, contest.slug, contest.name, entry.status, entry.name, entry.bio, entry.reason,
                     UploadView.of(clip, storage, signed=True, taken_down=down),
                     UploadView.of(photo, storage, signed=True, taken_down=down) if photo else None,
                     candidate.code if candidate else None, await entry_fee(session, entry, providers))


async def entry_of_link(sessions: Sessions, entry_id: uuid.UUID, token: str) -> Entry:
    """The entry its private link names (NotFound for a wrong token): what its candidate may act on."""
    async with sessions() as session:
        return await _entry(session, entry_id, token)


async def replace_clip(sessions: Sessions, storage: MediaStorage, entry_id: uuid.UUID, token: str,
                       clip_id: uuid.UUID, now: datetime) -> None:
    """A pending entry's new clip (granted to the same number); the former one is left to the orphan sweep."""
    await ask_storage(sessions, storage, clip_id)
    async with sessions.begin() as session:
        entry = await _entry(session, entry_id, token, lock=True)
        if entry.status is not EntryStatus.PENDING:
            raise Conflict("Only a pending entry's clip can be replaced.", code="entry_decided")
        clip = await _own_upload(session, clip_id, entry.contest_id, entry.msisdn, UploadKind.CLIP, now)
        await session.execute(update(MediaUpload).where(MediaUpload.id == entry.clip_id).values(attached_at=None))
        entry.clip_id = clip.id


async def grant_for_entry(sessions: Sessions, storage: MediaStorage, entry_id: uuid.UUID, token: str,
                          now: datetime) -> UploadGrant:
    """A grant for a pending entry's new clip, to the number that entered."""
    async with sessions() as session:
        entry = await _entry(session, entry_id, token)
        contest = await session.get(Contest, entry.contest_id)
    if entry.status is not EntryStatus.PENDING or contest is None:
        raise Conflict("Only a pending entry's clip can be replaced.", code="entry_decided")
    return await grant_upload(sessions, storage, contest.slug, entry.msisdn, UploadKind.CLIP.value, now)
