"""`gateway media` as it runs: the server wires its own hooks on the service's database, so a candidate's finished
upload is noted as received there (its entry's submission and its processing follow) with nothing more to wire."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.models import MediaUpload, UploadKind, UploadState
from media.local_storage import LocalStorage
from media.upload_server import served_media_app
from tests.factories import make_contest
from tests.media.test_upload_server import SECRET, chunk_headers


async def test_a_finished_upload_is_noted_received_by_the_media_server_itself(
        settings: Settings, sessions: Sessions, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media", "http://127.0.0.1:8093", "http://127.0.0.1:8093", SECRET)
    contest = await make_contest(sessions)
    upload_id, now = uuid.uuid4(), datetime.now(UTC)
    async with sessions.begin() as session:
        session.add(MediaUpload(id=upload_id, contest_id=contest.id, kind=UploadKind.CLIP, storage="local",
                                max_bytes=1000, expires_at=now + timedelta(hours=1), state=UploadState.GRANTED,
                                created_at=now, updated_at=now))
    grant = storage.grant_upload(str(upload_id), "clip", 1000, now + timedelta(hours=1))
    auth = {"Authorization": grant.fields["authorization"], "Tus-Resumable": "1.0.0"}
    body = b"a clip" * 50
    async with TestClient(TestServer(served_media_app(storage, settings.database_url or ""))) as media:
        created = await media.post(f"/uploads/{upload_id}", headers={**auth, "Upload-Length": str(len(body))})
        assert created.status == 201
        sent = await media.patch(f"/uploads/{upload_id}", data=body, headers=chunk_headers(auth, 0))
        assert sent.status == 204
    async with sessions() as session:
        upload = await session.get(MediaUpload, upload_id)
    assert upload is not None and upload.state is UploadState.RECEIVED and upload.size_bytes == len(body)
