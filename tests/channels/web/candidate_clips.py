"""Candidates' clips for the candidate page tests: media_uploads rows made as the media job leaves them (ready,
with their files' keys), held by a candidate."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from gateway.db.engine import Sessions
from gateway.db.models import Candidate, Contest, MediaUpload, UploadKind, UploadState

FILES_URL = "https://media.example.org/files"  # tests/conftest.py's MEDIA_FILES_URL, as the local storage serves


async def give_clip(sessions: Sessions, contest: Contest, code: str, *, hd: bool = True,
                    state: UploadState = UploadState.READY, width: int = 720, height: int = 1280) -> uuid.UUID:
    """A clip for candidate `code` (portrait by default, as phones film); its id names its files' keys."""
    upload_id = uuid.uuid4()
    files = {"360p": {"key": f"{upload_id}/360p.mp4", "content_type": "video/mp4"},
             "poster": {"key": f"{upload_id}/poster.jpg", "content_type": "image/jpeg"},
             "preview": {"key": f"{upload_id}/preview.mp4", "content_type": "video/mp4"},
             "thumb": {"key": f"{upload_id}/thumb.jpg", "content_type": "image/jpeg"}}
    if hd:
        files["720p"] = {"key": f"{upload_id}/720p.mp4", "content_type": "video/mp4"}
    async with sessions.begin() as session:
        session.add(MediaUpload(
            id=upload_id, contest_id=contest.id, kind=UploadKind.CLIP, storage="local", max_bytes=50 * 1024 * 1024,
            expires_at=datetime.now(UTC) + timedelta(hours=1), state=state, size_bytes=1000,
            facts={"seconds": 42.5, "width": width, "height": height},
            files=files if state is UploadState.READY else None, attached_at=datetime.now(UTC)))
        await session.flush()
        await session.execute(update(Candidate).where(Candidate.contest_id == contest.id, Candidate.code == code)
                              .values(clip_id=upload_id))
    return upload_id


async def candidate_id(sessions: Sessions, contest: Contest, code: str) -> int:
    async with sessions() as session:
        found = await session.scalar(Candidate.__table__.select().with_only_columns(Candidate.id)
                                     .where(Candidate.contest_id == contest.id, Candidate.code == code))
    assert found is not None
    return int(found)
