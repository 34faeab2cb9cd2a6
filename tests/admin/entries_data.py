"""Entries for the admin tests, as the public entry pages and the media jobs leave them: a call for entries,
uploads already probed (ready, still processing, or refused) and entries pending review. Rows are written with
the models directly: what the candidate's side does is tested with it (tests/media)."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.db.engine import Sessions
from gateway.db.models import (
    ContestOrganiser,
    Entry,
    EntryCall,
    EntryStatus,
    MediaUpload,
    UploadKind,
    UploadState,
)

_numbers = itertools.count(1)
Client = TestClient[web.Request, web.Application]  # the `client` fixture, typed


async def give_contest(sessions: Sessions, contest_id: int, admin_id: int) -> None:
    """The organiser runs this contest (they see only the contests they run)."""
    async with sessions.begin() as session:
        session.add(ContestOrganiser(contest_id=contest_id, admin_id=admin_id))


async def open_call(sessions: Sessions, contest_id: int) -> None:
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        session.add(EntryCall(contest_id=contest_id, opens_at=now - timedelta(days=1),
                              closes_at=now + timedelta(days=7), rules="One clip, one minute, your own song."))


def made_files(upload_id: uuid.UUID, kind: UploadKind) -> dict[str, Any]:
    if kind is UploadKind.PHOTO:
        return {"photo": {"key": f"{upload_id}/photo.jpg", "content_type": "image/jpeg"}}
    return {"360p": {"key": f"{upload_id}/360p.mp4", "content_type": "video/mp4"},
            "720p": {"key": f"{upload_id}/720p.mp4", "content_type": "video/mp4"},
            "poster": {"key": f"{upload_id}/poster.jpg", "content_type": "image/jpeg"}}


async def an_upload(sessions: Sessions, contest_id: int, kind: UploadKind = UploadKind.CLIP,
                    state: UploadState = UploadState.READY, refusal: str | None = None,
                    msisdn: str | None = None) -> uuid.UUID:
    upload_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        session.add(MediaUpload(
            id=upload_id, contest_id=contest_id, kind=kind, storage="local", msisdn=msisdn, max_bytes=50_000_000,
            expires_at=now + timedelta(hours=2), state=state, refusal=refusal, size_bytes=1000,
            facts={"duration": 42.0} if state is UploadState.READY else None,
            files=made_files(upload_id, kind) if state is UploadState.READY else None))
    return upload_id


async def an_entry(sessions: Sessions, contest_id: int, name: str, *, clip: UploadState = UploadState.READY,
                   refusal: str | None = None, photo: bool = True, bio: str | None = "I sing.",
                   status: EntryStatus = EntryStatus.PENDING) -> Entry:
    """A pending entry (by default) with its clip in state `clip` and a ready photo."""
    msisdn = f"+23767{next(_numbers):07d}"
    clip_id = await an_upload(sessions, contest_id, UploadKind.CLIP, clip, refusal, msisdn)
    photo_id = await an_upload(sessions, contest_id, UploadKind.PHOTO, msisdn=msisdn) if photo else None
    entry = Entry(id=uuid.uuid4(), contest_id=contest_id, status=status, name=name, bio=bio, msisdn=msisdn,
                  language="fr", rules_accepted_at=datetime.now(UTC), clip_id=clip_id, photo_id=photo_id,
                  token_digest=hashlib.sha256(uuid.uuid4().bytes).hexdigest())
    async with sessions.begin() as session:
        session.add(entry)
    return entry
