"""`gateway media` as it runs: the server wires its own hooks on the service's database, so a candidate's finished
upload is noted as received there (its entry's submission and its processing follow) with nothing more to wire;
who may fetch a file is asked once at a time per upload however many ranges come, and a database that does not
answer has the file refused at once (503), never served on a guess nor held until the pool gives up."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, text, update

from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, MediaUpload, UploadKind, UploadState
from media.local_storage import LocalStorage
from media.upload_server import ENGINE, served_media_app
from tests.factories import make_contest
from tests.media.test_media_access import a_ready_upload
from tests.media.test_upload_server import SECRET, a_made_clip, chunk_headers, path_of
from tests.waiting import HANG_SECONDS, until, until_true


async def a_granted_clip(sessions: Sessions) -> uuid.UUID:
    """A clip's upload in a contest of its own, granted for an hour, nothing of it received yet."""
    contest = await make_contest(sessions)
    upload_id, now = uuid.uuid4(), datetime.now(UTC)
    async with sessions.begin() as session:
        session.add(MediaUpload(id=upload_id, contest_id=contest.id, kind=UploadKind.CLIP, storage="local",
                                max_bytes=1000, expires_at=now + timedelta(hours=1), state=UploadState.GRANTED))
    return upload_id


async def received(sessions: Sessions, upload_id: uuid.UUID) -> bool:
    async with sessions() as session:
        upload = await session.get(MediaUpload, upload_id)
    return upload is not None and upload.state is UploadState.RECEIVED


async def test_a_finished_upload_is_noted_received_by_the_media_server_itself(
        settings: Settings, sessions: Sessions, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media", "http://127.0.0.1:8093", "http://127.0.0.1:8093", SECRET)
    upload_id, now = await a_granted_clip(sessions), datetime.now(UTC)
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


async def test_an_upload_finished_while_the_database_was_away_is_noted_received_once_it_is_back(
        settings: Settings, sessions: Sessions, tmp_path: Path) -> None:
    storage = a_storage(tmp_path)
    upload_id, now = await a_granted_clip(sessions), datetime.now(UTC)
    grant = storage.grant_upload(str(upload_id), "clip", 1000, now + timedelta(hours=1))
    auth = {"Authorization": grant.fields["authorization"], "Tus-Resumable": "1.0.0"}
    app = served_media_app(storage, settings.database_url or "", access_seconds=0.5, tell_again_seconds=0.1)
    async with TestClient(TestServer(app)) as media:
        # The uploads' table out of reach past the server's statement time-out, as in a fail-over.
        async with sessions.begin() as session:
            await session.execute(text("LOCK TABLE media_uploads IN ACCESS EXCLUSIVE MODE"))
            created = await media.post(f"/uploads/{upload_id}", headers={**auth, "Upload-Length": "300"})
            assert created.status == 201
            sent = await media.patch(f"/uploads/{upload_id}", data=b"a clip" * 50, headers=chunk_headers(auth, 0))
            assert sent.status == 204  # the candidate's file is whole and kept
        # Back: the media server tells the service by itself; a web process on another host could not have seen it.
        await until_true(lambda: received(sessions, upload_id), "the upload noted received", timeout=60)
        again = await media.patch(f"/uploads/{upload_id}", data=b"x", headers=chunk_headers(auth, 300))
        assert again.status == 410  # complete: it takes no more bytes


async def test_an_upload_a_stopped_server_had_still_to_tell_of_is_told_when_it_starts_again(
        settings: Settings, sessions: Sessions, tmp_path: Path) -> None:
    """The server stopped (or was replaced) while the database was away: its whole file is on disk, its note lost
    with the process; the next start tells of it."""
    storage = a_storage(tmp_path)
    upload_id = await a_granted_clip(sessions)
    storage.source(str(upload_id)).parent.mkdir(parents=True)
    storage.source(str(upload_id)).write_bytes(b"a clip" * 50)
    app = served_media_app(storage, settings.database_url or "", tell_again_seconds=0.1)
    async with TestClient(TestServer(app)):
        await until_true(lambda: received(sessions, upload_id), "the upload noted received", timeout=60)
    async with sessions() as session:
        upload = await session.get(MediaUpload, upload_id)
    assert upload is not None and upload.size_bytes == 300

def a_storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "media", "http://127.0.0.1:8093", "http://127.0.0.1:8093", SECRET)


def counting_arrivals(app: web.Application) -> list[str]:
    """The paths of the requests that reached the app's handlers, as they reach them."""
    arrived: list[str] = []

    @web.middleware
    async def note(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                   ) -> web.StreamResponse:
        arrived.append(request.path)
        return await handler(request)
    app.middlewares.append(note)
    return arrived


async def test_a_clips_ranges_asked_at_once_cost_the_database_one_statement(
        settings: Settings, sessions: Sessions, tmp_path: Path) -> None:
    storage = a_storage(tmp_path)
    contest = await make_contest(sessions, candidates=1)
    clip = await a_ready_upload(sessions, storage, tmp_path, contest.id, UploadKind.CLIP, None)
    async with sessions.begin() as session:  # a shown candidate's clip: anyone may have it
        await session.execute(update(Candidate).where(Candidate.contest_id == contest.id).values(clip_id=clip))
    app = served_media_app(storage, settings.database_url or "", access_seconds=HANG_SECONDS)
    arrived = counting_arrivals(app)
    asked: list[str] = []

    def note_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "candidates" in statement:
            asked.append(statement)
    event.listen(app[ENGINE].sync_engine, "before_cursor_execute", note_statement)
    ranges = 8
    async with TestClient(TestServer(app)) as media:
        # The database's answer held back (a lock on the candidates), so every range comes while it is awaited.
        async with sessions.begin() as session:
            await session.execute(text("LOCK TABLE candidates IN ACCESS EXCLUSIVE MODE"))
            parts = [asyncio.ensure_future(media.get(f"/files/{clip}/360p.mp4", headers={
                "Range": f"bytes={start}-{start + 3}"})) for start in range(0, ranges * 4, 4)]
            await until(lambda: len(arrived) == ranges, timeout=HANG_SECONDS)
        assert [part.status for part in await asyncio.gather(*parts)] == [206] * ranges
        assert len(asked) == 1
        assert (await media.get(f"/files/{clip}/360p.mp4")).status == 200  # asked again, once its answer came
        assert len(asked) == 2


@pytest.fixture
async def silent_database() -> AsyncIterator[str]:
    """A PostgreSQL URL whose server takes connections and never says a word (a database failing over)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"postgresql://ballot:secret@127.0.0.1:{port}/ballot"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_file_is_refused_within_seconds_while_the_database_does_not_answer(
        silent_database: str, tmp_path: Path) -> None:
    storage = a_storage(tmp_path)
    upload_id = await a_made_clip(storage, tmp_path)
    key = f"{upload_id}/360p.mp4"
    async with TestClient(TestServer(served_media_app(storage, silent_database))) as media:
        started = time.monotonic()
        answers = await asyncio.gather(media.get(f"/files/{key}", headers={"Range": "bytes=0-9"}),
                                       media.get(path_of(storage.signed_url(key))))
        waited = time.monotonic() - started
        for answer in answers:  # neither the plain address nor a signed link: it may have been taken down
            assert answer.status == 503 and answer.headers["Retry-After"] == "5"
            assert answer.headers["Cache-Control"] == "no-store"
            assert (await answer.json())["error"]["code"] == "media_unavailable"
        assert waited < 20  # its 5 s wait, not the pool's 30 s nor asyncpg's 60 s to connect
