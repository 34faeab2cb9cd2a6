"""The media server as a candidate's phone meets it: a clip sent in chunks over tus, resumed after a dropped
link, refused without its grant or past its size; what the service made served with Range, its own type and
nosniff, to anyone only while the service says viewers may have it and otherwise on a short-lived signed link;
nothing a browser sent ever served as it came."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.core.media.uploads import Access
from media.local_storage import LocalStorage
from media.upload_server import media_app

SECRET = "test-secret-key-for-grants-0123456789"


class Told:
    def __init__(self) -> None:
        self.completed: list[tuple[str, int]] = []

    async def __call__(self, upload_id: str, size: int) -> None:
        self.completed.append((upload_id, size))


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "media", "http://127.0.0.1:8093", "http://127.0.0.1:8093", SECRET)


@pytest.fixture
def told() -> Told:
    return Told()


@pytest.fixture
async def media(storage: LocalStorage, told: Told) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(media_app(storage, told))) as client:
        yield client


def grant_for(storage: LocalStorage, max_bytes: int = 1000, expires_in: float = 3600) -> tuple[str, dict[str, str]]:
    upload_id = str(uuid.uuid4())
    grant = storage.grant_upload(upload_id, "clip", max_bytes, datetime.now(UTC) + timedelta(seconds=expires_in))
    return upload_id, {"Authorization": grant.fields["authorization"], "Tus-Resumable": "1.0.0"}


def chunk_headers(auth: dict[str, str], offset: int) -> dict[str, str]:
    return {**auth, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}


async def test_a_clip_sent_in_chunks_arrives_whole_once_and_the_service_is_told(
        media: TestClient, storage: LocalStorage, told: Told) -> None:
    upload_id, auth = grant_for(storage)
    body = bytes(range(256)) * 3  # 768 bytes
    created = await media.post(f"/uploads/{upload_id}", headers={**auth, "Upload-Length": str(len(body))})
    assert created.status == 201 and created.headers["Upload-Offset"] == "0"
    first = await media.patch(f"/uploads/{upload_id}", data=body[:500], headers=chunk_headers(auth, 0))
    assert first.status == 204 and first.headers["Upload-Offset"] == "500"
    assert told.completed == [] and await storage.received(upload_id) is None
    # The link dropped: the phone asks where it stands and goes on from there.
    where = await media.head(f"/uploads/{upload_id}", headers=auth)
    assert where.headers["Upload-Offset"] == "500" and where.headers["Upload-Length"] == "768"
    again = await media.post(f"/uploads/{upload_id}", headers={**auth, "Upload-Length": str(len(body))})
    assert again.status == 201 and again.headers["Upload-Offset"] == "500"  # what the page's script asks
    last = await media.patch(f"/uploads/{upload_id}", data=body[500:], headers=chunk_headers(auth, 500))
    assert last.status == 204 and last.headers["Upload-Offset"] == "768"
    assert told.completed == [(upload_id, 768)]
    assert storage.source(upload_id).read_bytes() == body
    spent = await media.patch(f"/uploads/{upload_id}", data=b"x", headers=chunk_headers(auth, 768))
    assert spent.status == 410  # the grant is spent: a finished upload takes no more bytes
    assert (await spent.json())["error"]["code"] == "upload_complete"
    await storage.processed(upload_id)  # processed: its source is gone, and the grant stays spent
    anew = await media.post(f"/uploads/{upload_id}", headers={**auth, "Upload-Length": str(len(body))})
    assert anew.status == 410 and not storage.incoming(upload_id).exists()


async def test_a_chunk_sent_again_at_an_old_offset_is_refused_and_changes_nothing(
        media: TestClient, storage: LocalStorage) -> None:
    upload_id, auth = grant_for(storage)
    await media.post(f"/uploads/{upload_id}", headers={**auth, "Upload-Length": "10"})
    await media.patch(f"/uploads/{upload_id}", data=b"abcde", headers=chunk_headers(auth, 0))
    repeated = await media.patch(f"/uploads/{upload_id}", data=b"abcde", headers=chunk_headers(auth, 0))
    assert repeated.status == 409
    assert storage.incoming(upload_id).read_bytes() == b"abcde"


async def test_uploads_without_a_valid_grant_for_them_are_refused(media: TestClient, storage: LocalStorage) -> None:
    upload_id, auth = grant_for(storage)
    other_id, _ = grant_for(storage)
    _, expired = grant_for(storage, expires_in=-10)
    forged = {**auth, "Authorization": auth["Authorization"][:-4] + "AAAA"}
    for headers, target in ((expired, upload_id), (forged, upload_id), (auth, other_id), ({}, upload_id)):
        answer = await media.post(f"/uploads/{target}", headers={**headers, "Upload-Length": "10"})
        assert answer.status == 401, headers
        assert (await answer.json())["error"]["code"] == "bad_grant"
    assert not (storage.root / "incoming").exists()


async def test_a_file_larger_than_its_grant_is_refused_before_a_byte_is_kept(
        media: TestClient, storage: LocalStorage) -> None:
    upload_id, auth = grant_for(storage, max_bytes=100)
    too_big = await media.post(f"/uploads/{upload_id}", headers={**auth, "Upload-Length": "101"})
    assert too_big.status == 413
    await media.post(f"/uploads/{upload_id}", headers={**auth, "Upload-Length": "10"})
    past = await media.patch(f"/uploads/{upload_id}", data=b"x" * 11, headers=chunk_headers(auth, 0))
    assert past.status == 413  # more bytes than declared: none of this chunk is kept
    assert storage.incoming(upload_id).read_bytes() == b""


async def test_an_empty_file_is_refused_as_empty_not_as_too_large(media: TestClient, storage: LocalStorage) -> None:
    upload_id, auth = grant_for(storage, max_bytes=100)
    empty = await media.post(f"/uploads/{upload_id}", headers={**auth, "Upload-Length": "0"})
    assert empty.status == 400 and (await empty.json())["error"]["code"] == "empty_file"
    assert not storage.incoming(upload_id).exists()


async def test_made_files_are_served_with_range_their_own_type_and_nosniff(
        media: TestClient, storage: LocalStorage, tmp_path: Path) -> None:
    upload_id = str(uuid.uuid4())
    made = tmp_path / "made.mp4"
    made.write_bytes(b"0123456789" * 100)
    await storage.put(f"{upload_id}/360p.mp4", made, "video/mp4")
    link = storage.signed_url(f"{upload_id}/360p.mp4").split("/", 3)[3].join(["/", ""])
    part = await media.get(link, headers={"Range": "bytes=10-19"})
    assert part.status == 206 and await part.read() == b"0123456789"
    assert part.headers["Content-Type"] == "video/mp4"
    assert part.headers["X-Content-Type-Options"] == "nosniff"
    assert part.headers["Content-Range"] == "bytes 10-19/1000"


async def test_what_a_browser_uploaded_is_never_served(media: TestClient, storage: LocalStorage) -> None:
    upload_id, auth = grant_for(storage)
    html = b"<script>alert(1)</script>"
    await media.post(f"/uploads/{upload_id}", headers={**auth, "Upload-Length": str(len(html))})
    await media.patch(f"/uploads/{upload_id}", data=html, headers=chunk_headers(auth, 0))
    for name in ("source", "x.html", "../sources/" + upload_id):
        answer = await media.get(f"/files/{upload_id}/{name}")
        assert answer.status == 404, name
    with pytest.raises(ValueError):
        await storage.put(f"{upload_id}/page.html", storage.source(upload_id), "text/html")


class Shown:
    """The service's word on who may have which uploads, as the media server asks it."""

    def __init__(self) -> None:
        self.public: set[str] = set()
        self.taken_down: set[str] = set()

    async def __call__(self, upload_id: str) -> Access:
        if upload_id in self.taken_down:
            return Access.TAKEN_DOWN
        return Access.PUBLIC if upload_id in self.public else Access.SIGNED


async def a_made_clip(storage: LocalStorage, tmp_path: Path) -> str:
    upload_id = str(uuid.uuid4())
    made = tmp_path / "made.mp4"
    made.write_bytes(b"0123456789" * 100)
    await storage.put(f"{upload_id}/360p.mp4", made, "video/mp4")
    return upload_id


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


async def test_a_file_viewers_may_not_have_is_served_only_on_a_signed_link_no_shared_cache_keeps(
        storage: LocalStorage, told: Told, tmp_path: Path) -> None:
    shown = Shown()
    upload_id = await a_made_clip(storage, tmp_path)
    key = f"{upload_id}/360p.mp4"
    async with TestClient(TestServer(media_app(storage, told, shown))) as media:
        assert (await media.get(f"/files/{key}")).status == 404  # a pending entry's clip, to anyone
        signed = await media.get(path_of(storage.signed_url(key)))  # the candidate's or the organiser's
        assert signed.status == 200 and signed.headers["Cache-Control"].startswith("private")
        forged = await media.get(f"/files/{key}?expires=9999999999&sig=0123456789abcdef0123456789abcdef")
        assert forged.status == 403 and (await forged.json())["error"]["code"] == "bad_link"
        other = storage.signed_url(key).replace(upload_id, str(uuid.uuid4()))  # a link is for its own file
        assert (await media.get(path_of(other))).status in (403, 404)
        shown.public.add(upload_id)  # approved: anyone may have it, and a shared cache keeps it a minute at most
        public = await media.get(f"/files/{key}")
        assert public.status == 200 and public.headers["Cache-Control"] == "public, max-age=60"


async def test_a_signed_link_stops_working_once_expired(storage: LocalStorage, told: Told, tmp_path: Path) -> None:
    upload_id = await a_made_clip(storage, tmp_path)
    now = [1_800_000_000.0]
    clocked = LocalStorage(storage.root, storage.upload_url, storage.files_url, SECRET, clock=lambda: now[0])
    link = clocked.signed_url(f"{upload_id}/360p.mp4")
    async with TestClient(TestServer(media_app(clocked, told))) as media:
        assert (await media.get(path_of(link))).status == 200
        now[0] += 31 * 60 + 300  # past its half hour, whatever rounding
        expired = await media.get(path_of(link))
        assert expired.status == 403 and (await expired.json())["error"]["code"] == "link_expired"


async def test_a_file_taken_down_is_refused_at_its_next_request_on_every_link_a_signed_one_too(
        storage: LocalStorage, told: Told, tmp_path: Path) -> None:
    shown = Shown()
    upload_id = await a_made_clip(storage, tmp_path)
    key = f"{upload_id}/360p.mp4"
    signed = path_of(storage.signed_url(key))  # the link the candidate's page handed out
    shown.public.add(upload_id)
    async with TestClient(TestServer(media_app(storage, told, shown))) as media:
        for start in range(0, 100, 10):  # a phone fetching a clip in ranges
            part = await media.get(f"/files/{key}", headers={"Range": f"bytes={start}-{start + 9}"})
            assert part.status == 206
        mine = await media.get(signed)
        assert mine.status == 200 and mine.headers["Cache-Control"] == "private, no-cache"
        shown.taken_down.add(upload_id)  # hidden by its organiser: its very next range is refused
        for path in (f"/files/{key}", signed):
            refused = await media.get(path, headers={"Range": "bytes=10-19"})
            assert refused.status == 404 and refused.headers["Cache-Control"] == "no-store"
        shown.taken_down.clear()
        assert (await media.get(signed)).status == 200
