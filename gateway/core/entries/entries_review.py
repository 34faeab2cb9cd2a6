"""The organiser's side of a call for entries: open it, review the entries, approve or reject them.

An approved entry becomes a candidate with the next free code, its clip and photo; a rejected one keeps the
reason the candidate is told. Each decision is audited in its own transaction and leaves an outbox row
(`entry.decided`), so the text message to the candidate goes once the decision has committed."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.contests.contest_drafts import next_codes
from gateway.core.contests.contests_admin import candidate_snapshot, next_position, taken_codes
from gateway.core.contests.scope import contest_in_scope
from gateway.core.entered_text import entered_text
from gateway.core.errors import Conflict, DomainError, NotFound
from gateway.core.media.uploads import UploadView, note_access
from gateway.core.media_storage import MediaStorage
from gateway.core.outbox import emit
from gateway.db.engine import Sessions
from gateway.db.models import (
    Candidate,
    ContestStatus,
    Entry,
    EntryCall,
    EntryStatus,
    MediaUpload,
    UploadState,
)
from gateway.db.seed import ensure_tallies

ENTRY_DECIDED_TOPIC = "entry.decided"
MAX_RULES = 20_000
MAX_REASON = 300  # it goes to the candidate in a text message


@dataclass(frozen=True)
class ReviewRow:
    entry: Entry
    clip: UploadView
    photo: UploadView | None


async def set_entry_call(sessions: Sessions, actor: Actor, contest_id: int, *, opens_at: datetime,
                         closes_at: datetime, rules: str, max_entries: int | None,
                         fee_amount: int | None = None, codes_per_day: int | None = None,
                         codes_ceiling: int | None = None) -> EntryCall:
    """Open (or change) a contest's call; `fee_amount` in minor units of the contest's currency (None: free);
    `codes_per_day` the codes texted a day to numbers entering it (None: the service's default), at most
    `codes_ceiling` (the service's)."""
    rules = entered_text(rules, "rules", limit=MAX_RULES, required=True, label="The rules") or ""
    if closes_at <= opens_at:
        raise DomainError("Entries must close after they open.", code="invalid_field", field="closes_at")
    if max_entries is not None and max_entries < 1:
        raise DomainError("At most how many entries: 1 or more, or none for no limit.", code="invalid_field",
                          field="max_entries")
    if fee_amount is not None and fee_amount < 1:
        raise DomainError("The entry fee: more than nothing, or none for free entry.", code="invalid_field",
                          field="fee_amount")
    check_codes_per_day(codes_per_day, codes_ceiling)
    values = {"opens_at": opens_at, "closes_at": closes_at, "rules": rules, "max_entries": max_entries,
              "fee_amount": fee_amount, "codes_per_day": codes_per_day}
    async with sessions.begin() as session:
        contest = await contest_in_scope(session, actor, contest_id, lock=True)
        before = await session.get(EntryCall, contest.id)
        await session.execute(insert(EntryCall).values(contest_id=contest.id, **values)
                              .on_conflict_do_update(index_elements=[EntryCall.contest_id], set_=values))
        await audit.record(session, actor, "entries.call", f"contest:{contest.id}",
                           before=_call_snapshot(before) if before else None, after=_snapshot_of(values))
        call = await session.get(EntryCall, contest.id, populate_existing=True)
    assert call is not None
    return call


def check_codes_per_day(codes_per_day: int | None, ceiling: int | None) -> None:
    if codes_per_day is None:
        return
    if codes_per_day < 1 or (ceiling is not None and codes_per_day > ceiling):
        most = f" and at most {ceiling} (the service's ceiling)" if ceiling is not None else ""
        raise DomainError(f"Codes texted a day: 1 or more{most}, or none for the service's default.",
                          code="invalid_field", field="codes_per_day")


def _snapshot_of(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in values.items()}


def _call_snapshot(call: EntryCall) -> dict[str, Any]:
    return _snapshot_of({"opens_at": call.opens_at, "closes_at": call.closes_at, "rules": call.rules,
                         "max_entries": call.max_entries, "fee_amount": call.fee_amount,
                         "codes_per_day": call.codes_per_day})


async def entry_call(sessions: Sessions, actor: Actor, contest_id: int) -> EntryCall | None:
    async with sessions() as session:
        contest = await contest_in_scope(session, actor, contest_id)
        return await session.get(EntryCall, contest.id)


async def list_entries(sessions: Sessions, storage: MediaStorage, actor: Actor, contest_id: int,
                       status: str | None = None, limit: int = 200) -> list[ReviewRow]:
    """A contest's entries, oldest first (the queue's order), with what their uploads became."""
    query = select(Entry).order_by(Entry.created_at).limit(limit)
    if status:
        try:
            query = query.where(Entry.status == EntryStatus(status))
        except ValueError:
            raise DomainError("status: pending, approved or rejected.", code="invalid_field",
                              field="status") from None
    async with sessions() as session:
        contest = await contest_in_scope(session, actor, contest_id)
        entries = list((await session.scalars(query.where(Entry.contest_id == contest.id))).all())
        ids = {e.clip_id for e in entries} | {e.photo_id for e in entries if e.photo_id}
        uploads = {u.id: u for u in (await session.scalars(select(MediaUpload).where(MediaUpload.id.in_(ids))))}
    return [ReviewRow(e, UploadView.of(uploads[e.clip_id], storage, signed=True),
                      UploadView.of(uploads[e.photo_id], storage, signed=True) if e.photo_id else None)
            for e in entries]


async def _pending(session: AsyncSession, actor: Actor, entry_id: uuid.UUID) -> Entry:
    entry = await session.get(Entry, entry_id, with_for_update=True)
    if entry is None:
        raise NotFound("No such entry.", code="entry_not_found")
    await contest_in_scope(session, actor, entry.contest_id)  # an organiser sees only their own contests' entries
    if entry.status is not EntryStatus.PENDING:
        raise Conflict(f"This entry was {entry.status.value} already.", code="entry_decided")
    return entry


async def _locked_in_order(session: AsyncSession, actor: Actor, entry_ids: Sequence[uuid.UUID]) -> list[Entry]:
    """The entries, each pending, locked after their contests and in one order (ids), whoever asks: two
    organisers approving overlapping sets wait for each other instead of deadlocking."""
    contest_ids = sorted(set(await session.scalars(select(Entry.contest_id).where(Entry.id.in_(entry_ids)))))
    for contest_id in contest_ids:
        await contest_in_scope(session, actor, contest_id, lock=True)
    await session.execute(select(Entry.id).where(Entry.id.in_(entry_ids)).order_by(Entry.id).with_for_update())
    return [await _pending(session, actor, entry_id) for entry_id in entry_ids]


async def approve_entries(sessions: Sessions, storage: MediaStorage, actor: Actor, entry_ids: Sequence[uuid.UUID],
                          now: datetime, watched: Mapping[uuid.UUID, uuid.UUID] | None = None) -> list[Candidate]:
    """Each entry a candidate with the next free code; all of them or none (a bulk approval names the one
    that could not be approved: decided already, its clip not ready, or — `watched` saying which clip the
    organiser saw of an entry — its clip replaced by the candidate since)."""
    made: list[Candidate] = []
    async with sessions.begin() as session:
        for entry in await _locked_in_order(session, actor, list(dict.fromkeys(entry_ids))):
            contest = await contest_in_scope(session, actor, entry.contest_id)
            if contest.status is ContestStatus.CLOSED:
                raise Conflict("A closed contest cannot take a new candidate.", code="contest_closed")
            if watched and watched.get(entry.id, entry.clip_id) != entry.clip_id:
                raise Conflict(f"{entry.name} replaced the clip since the page was loaded: watch the new one first.",
                               code="clip_changed")
            call = await session.get(EntryCall, entry.contest_id)
            if call is not None and call.fee_amount is not None and entry.fee_paid_at is None:
                raise Conflict(f"{entry.name} has not paid the entry fee.", code="fee_unpaid")
            clip = await session.get(MediaUpload, entry.clip_id)
            if clip is None or clip.state is not UploadState.READY:
                raise Conflict(f"The clip of {entry.name}'s entry is not ready to be watched.", code="clip_not_ready")
            photo = await session.get(MediaUpload, entry.photo_id) if entry.photo_id else None
            code = next_codes(await taken_codes(session, contest.id), 1)[0]
            candidate = Candidate(contest_id=contest.id, code=code, name=entry.name, bio=entry.bio,
                                  clip_id=clip.id, photo_id=entry.photo_id, photo_url=photo_url_of(photo, storage),
                                  position=await next_position(session, contest.id))
            session.add(candidate)
            await session.flush()
            await ensure_tallies(session, contest.id)
            entry.status, entry.candidate_id = EntryStatus.APPROVED, candidate.id
            entry.decided_by, entry.decided_at = actor.email, now
            await audit.record(session, actor, "entry.approve", f"entry:{entry.id}",
                               after={"candidate": candidate_snapshot(candidate), "contest_id": contest.id})
            await emit(session, ENTRY_DECIDED_TOPIC, entry_id=str(entry.id))
            await note_access(session, clip.id, entry.photo_id)  # public from now on
            made.append(candidate)
    return made


def photo_url_of(photo: MediaUpload | None, storage: MediaStorage) -> str | None:
    """A candidate's photo where the storage serves it (a photo still being processed: none, for now)."""
    if photo is None or photo.state is not UploadState.READY or not photo.files:
        return None
    return UploadView.of(photo, storage).urls.get("photo")


async def photo_ready(sessions: Sessions, storage: MediaStorage, upload_id: uuid.UUID) -> None:
    """A photo prepared after its candidate was made (an entry approved meanwhile, the demo's candidates): the
    candidate, still without one, takes it."""
    async with sessions.begin() as session:
        photo = await session.get(MediaUpload, upload_id)
        url = photo_url_of(photo, storage)
        if url is None:
            return
        await session.execute(update(Candidate).where(
            Candidate.photo_id == upload_id, Candidate.photo_url.is_(None)).values(photo_url=url))


async def reject_entry(sessions: Sessions, actor: Actor, entry_id: uuid.UUID, reason: str, now: datetime) -> Entry:
    kept = entered_text(reason, "reason", limit=MAX_REASON, required=True, label="The reason") or ""
    async with sessions.begin() as session:
        entry = await _pending(session, actor, entry_id)
        entry.status, entry.reason = EntryStatus.REJECTED, kept
        entry.decided_by, entry.decided_at = actor.email, now
        # Its files are let go: the sweep removes them a day from now. Taken down at once meanwhile, on the links
        # its candidate and the organiser were given too: a storage that cannot ask us at every request is told.
        await session.execute(update(MediaUpload).where(MediaUpload.id.in_(
            [i for i in (entry.clip_id, entry.photo_id) if i is not None])).values(attached_at=None))
        await note_access(session, entry.clip_id, entry.photo_id)
        await audit.record(session, actor, "entry.reject", f"entry:{entry.id}", after={"reason": kept})
        await emit(session, ENTRY_DECIDED_TOPIC, entry_id=str(entry.id))
    return entry
