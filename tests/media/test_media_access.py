"""Who may fetch a candidate's files, as viewers meet the media server: a shown candidate's clip and photo, to
anyone; a pending entry's, only on the signed links the candidate and the organiser are shown; a hidden
candidate's, a rejected entry's, a replaced clip or photo, to nobody on any link; and the sweep removes what
nothing holds any more a day after it was let go, files of rejected entries and replaced clips among them."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from assembly.worker.job_runtime import JobContext
from gateway.core.audit import Actor
from gateway.core.contests.contests_admin import set_candidate_status
from gateway.core.entries.candidate_media import set_candidate_media
from gateway.core.entries.entering import EntryView, entry_view, replace_clip
from gateway.core.entries.entries_review import approve_entries, list_entries, reject_entry
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, Entry, EntryCall, MediaUpload, UploadKind, UploadState
from media.local_storage import LocalStorage
from media.sweep import files_sweep
from tests.factories import make_contest
from tests.media.conftest import Entering
from tests.provider_registry import registry_of

OWNER = Actor(None, "owner@example.org", "owner")
FILES = {UploadKind.CLIP: {"360p": ("360p.mp4", "video/mp4"), "poster": ("poster.jpg", "image/jpeg")},
         UploadKind.PHOTO: {"photo": ("photo.jpg", "image/jpeg")}}


async def a_ready_upload(sessions: Sessions, storage: LocalStorage, tmp_path: Path, contest_id: int,
                         kind: UploadKind, msisdn: str | None, attached: bool = True) -> uuid.UUID:
    """An upload the media job prepared: its files where the media server serves them."""
    upload_id = uuid.uuid4()
    files = {}
    for name, (file_name, content_type) in FILES[kind].items():
        made = tmp_path / f"{upload_id}-{file_name}"
        made.write_bytes(f"{upload_id} {file_name}".encode())
        await storage.put(f"{upload_id}/{file_name}", made, content_type)
        files[name] = {"key": f"{upload_id}/{file_name}", "content_type": content_type}
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        session.add(MediaUpload(id=upload_id, contest_id=contest_id, kind=kind, storage="local", msisdn=msisdn,
                                max_bytes=50_000_000, expires_at=now + timedelta(hours=2), state=UploadState.READY,
                                size_bytes=100, facts={"seconds": 5}, files=files,
                                attached_at=now if attached else None))
    return upload_id


async def an_entry(sessions: Sessions, storage: LocalStorage, tmp_path: Path, msisdn: str) -> tuple[Entry, str]:
    """A pending entry with a ready clip and photo, and the token of its private link."""
    contest = await make_contest(sessions, candidates=1)
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        session.add(EntryCall(contest_id=contest.id, opens_at=now - timedelta(hours=1),
                              closes_at=now + timedelta(days=7), rules="Your own song."))
    clip = await a_ready_upload(sessions, storage, tmp_path, contest.id, UploadKind.CLIP, msisdn)
    photo = await a_ready_upload(sessions, storage, tmp_path, contest.id, UploadKind.PHOTO, msisdn)
    token = uuid.uuid4().hex
    entry = Entry(id=uuid.uuid4(), contest_id=contest.id, name="Awa", msisdn=msisdn, language="en",
                  rules_accepted_at=now, clip_id=clip, photo_id=photo,
                  token_digest=hashlib.sha256(token.encode()).hexdigest())
    async with sessions.begin() as session:
        session.add(entry)
    return entry, token


async def status(entering: Entering, url_or_key: str) -> int:
    """What a viewer gets at a file's public address (`<upload id>/<name>`), or at a link (a full URL)."""
    path = "/" + url_or_key.split("/", 3)[3] if "://" in url_or_key else f"/files/{url_or_key}"
    return (await entering.media.get(path)).status


def storage_of(job: JobContext) -> LocalStorage:
    assert isinstance(job.media, LocalStorage)
    return job.media


async def test_a_hidden_candidates_photo_and_replaced_clip_stay_withheld_and_the_new_clip_with_them(
        entering: Entering, media_job: JobContext, sessions: Sessions, tmp_path: Path) -> None:
    storage = storage_of(media_job)
    entry, _ = await an_entry(sessions, storage, tmp_path, "+237670005501")
    assert entry.photo_id is not None
    [candidate] = await approve_entries(sessions, storage, OWNER, [entry.id], datetime.now(UTC))
    clip, photo = f"{entry.clip_id}/360p.mp4", f"{entry.photo_id}/photo.jpg"
    assert candidate.photo_url == storage.public_url(photo)
    assert await status(entering, clip) == 200 and await status(entering, candidate.photo_url) == 200
    await set_candidate_status(sessions, OWNER, candidate.id, "hidden")
    assert await status(entering, clip) == 404
    assert await status(entering, candidate.photo_url) == 404  # the photo is withheld with its candidate
    # The organiser replaces the hidden candidate's clip: neither the former nor the new one plays.
    new = await a_ready_upload(sessions, storage, tmp_path, entry.contest_id, UploadKind.CLIP, None, attached=False)
    await set_candidate_media(sessions, storage, OWNER, candidate.id, UploadKind.CLIP, new, datetime.now(UTC))
    assert await status(entering, clip) == 404 and await status(entering, f"{new}/360p.mp4") == 404
    await set_candidate_status(sessions, OWNER, candidate.id, "active")  # shown again: their clip as it is now
    assert await status(entering, f"{new}/360p.mp4") == 200 and await status(entering, candidate.photo_url) == 200
    assert await status(entering, clip) == 404  # the replaced one never comes back
    own = await a_ready_upload(sessions, storage, tmp_path, entry.contest_id, UploadKind.PHOTO, None, attached=False)
    assert await status(entering, f"{own}/photo.jpg") == 404  # the organiser's photo, not set yet
    await set_candidate_media(sessions, storage, OWNER, candidate.id, UploadKind.PHOTO, own, datetime.now(UTC))
    assert await status(entering, photo) == 404  # nor the entry's photo the organiser replaced
    assert await status(entering, f"{own}/photo.jpg") == 200  # the organiser's own, shown with the candidate


async def test_the_candidate_and_the_organiser_watch_a_pending_entry_on_signed_links_only(
        entering: Entering, media_job: JobContext, sessions: Sessions, tmp_path: Path) -> None:
    storage = storage_of(media_job)
    entry, token = await an_entry(sessions, storage, tmp_path, "+237670005502")
    view = await entry_view(sessions, storage, registry_of(), entry.id, token)
    assert view.photo is not None
    for link in (view.clip.urls["360p"], view.clip.urls["poster"], view.photo.urls["photo"]):
        assert "sig=" in link and await status(entering, link) == 200
    for key in (f"{entry.clip_id}/360p.mp4", f"{entry.clip_id}/poster.jpg", f"{entry.photo_id}/photo.jpg"):
        assert await status(entering, key) == 404  # at its plain address: nobody's before approval
    await reject_entry(sessions, OWNER, entry.id, "Not your own song.", datetime.now(UTC))
    assert await status(entering, f"{entry.clip_id}/360p.mp4") == 404


def links_of(view: EntryView) -> list[str]:
    """The signed links an entry's own page hands out: its clip's renditions and poster, its photo."""
    assert view.photo is not None
    links = [*view.clip.urls.values(), *view.photo.urls.values()]
    assert all("sig=" in link for link in links)
    return links


async def test_hiding_a_candidate_takes_down_every_link_the_entry_handed_out_and_showing_it_gives_fresh_ones(
        entering: Entering, media_job: JobContext, sessions: Sessions, tmp_path: Path) -> None:
    storage = storage_of(media_job)
    entry, token = await an_entry(sessions, storage, tmp_path, "+237670005505")
    [candidate] = await approve_entries(sessions, storage, OWNER, [entry.id], datetime.now(UTC))
    handed_out = links_of(await entry_view(sessions, storage, registry_of(), entry.id, token))
    assert {link.split("?")[0].rsplit("/", 1)[1] for link in handed_out} >= {"360p.mp4", "poster.jpg", "photo.jpg"}
    assert [await status(entering, link) for link in handed_out] == [200] * len(handed_out)
    await set_candidate_status(sessions, OWNER, candidate.id, "hidden")  # as the admin API's PATCH does
    # At once: the very next request on each link, signed (good for half an hour yet) or plain, is refused.
    assert [await status(entering, link) for link in handed_out] == [404] * len(handed_out)
    assert await status(entering, f"{entry.clip_id}/360p.mp4") == 404
    hidden_view = await entry_view(sessions, storage, registry_of(), entry.id, token)
    assert hidden_view.clip.urls == {} and hidden_view.photo is not None and hidden_view.photo.urls == {}
    await set_candidate_status(sessions, OWNER, candidate.id, "active")  # shown again: a fresh link plays
    fresh = links_of(await entry_view(sessions, storage, registry_of(), entry.id, token))
    assert [await status(entering, link) for link in fresh] == [200] * len(fresh)


async def test_rejecting_an_entry_takes_down_the_signed_links_its_candidate_and_organiser_were_given(
        entering: Entering, media_job: JobContext, sessions: Sessions, tmp_path: Path) -> None:
    storage = storage_of(media_job)
    entry, token = await an_entry(sessions, storage, tmp_path, "+237670005506")
    handed_out = links_of(await entry_view(sessions, storage, registry_of(), entry.id, token))
    [row] = await list_entries(sessions, storage, OWNER, entry.contest_id)  # the organiser's review queue
    handed_out += [*row.clip.urls.values()]
    assert [await status(entering, link) for link in handed_out] == [200] * len(handed_out)
    await reject_entry(sessions, OWNER, entry.id, "Not your own song.", datetime.now(UTC))
    assert [await status(entering, link) for link in handed_out] == [404] * len(handed_out)
    assert (await entry_view(sessions, storage, registry_of(), entry.id, token)).clip.urls == {}


async def test_a_replaced_clip_or_photo_is_refused_at_once_on_the_links_handed_out_before_and_the_new_one_plays(
        entering: Entering, media_job: JobContext, sessions: Sessions, tmp_path: Path) -> None:
    storage = storage_of(media_job)
    msisdn = "+237670005507"
    entry, token = await an_entry(sessions, storage, tmp_path, msisdn)
    pending = links_of(await entry_view(sessions, storage, registry_of(), entry.id, token))
    # The candidate sends another clip to their pending entry: the former one's links stop at once.
    again = await a_ready_upload(sessions, storage, tmp_path, entry.contest_id, UploadKind.CLIP, msisdn,
                                 attached=False)
    await replace_clip(sessions, storage, entry.id, token, again, datetime.now(UTC))
    assert [await status(entering, link) for link in pending] == [404, 404, 200]  # 360p, poster; the photo kept
    approved = links_of(await entry_view(sessions, storage, registry_of(), entry.id, token))
    assert [await status(entering, link) for link in approved] == [200] * len(approved)
    # Approved, then its clip and photo replaced by the organiser: the links the entry's page gave are refused.
    [candidate] = await approve_entries(sessions, storage, OWNER, [entry.id], datetime.now(UTC))
    new = await a_ready_upload(sessions, storage, tmp_path, entry.contest_id, UploadKind.CLIP, None, attached=False)
    await set_candidate_media(sessions, storage, OWNER, candidate.id, UploadKind.CLIP, new, datetime.now(UTC))
    assert [await status(entering, link) for link in approved] == [404, 404, 200]
    assert await status(entering, f"{again}/360p.mp4") == 404
    assert await status(entering, f"{new}/360p.mp4") == 200  # the new clip plays, to anyone
    fresh = await entry_view(sessions, storage, registry_of(), entry.id, token)  # the entry's page: the new clip
    assert fresh.clip.id == new and [await status(entering, link) for link in links_of(fresh)] == [200] * 3
    own = await a_ready_upload(sessions, storage, tmp_path, entry.contest_id, UploadKind.PHOTO, None, attached=False)
    await set_candidate_media(sessions, storage, OWNER, candidate.id, UploadKind.PHOTO, own, datetime.now(UTC))
    assert [await status(entering, link) for link in links_of(fresh)] == [200, 200, 404]


async def test_the_sweep_removes_a_rejected_entrys_files_and_a_replaced_clip_after_a_day(
        entering: Entering, media_job: JobContext, sessions: Sessions, tmp_path: Path) -> None:
    storage = storage_of(media_job)
    rejected, token = await an_entry(sessions, storage, tmp_path, "+237670005503")
    await reject_entry(sessions, OWNER, rejected.id, "Not your own song.", datetime.now(UTC))
    approved, _ = await an_entry(sessions, storage, tmp_path, "+237670005504")
    [candidate] = await approve_entries(sessions, storage, OWNER, [approved.id], datetime.now(UTC))
    new = await a_ready_upload(sessions, storage, tmp_path, approved.contest_id, UploadKind.CLIP, None,
                               attached=False)
    await set_candidate_media(sessions, storage, OWNER, candidate.id, UploadKind.CLIP, new, datetime.now(UTC))
    let_go = [rejected.clip_id, rejected.photo_id, approved.clip_id]
    assert await files_sweep(media_job) == "removed 0"  # a day's grace first
    assert all(storage.made(str(upload_id)).exists() for upload_id in let_go)
    async with sessions.begin() as session:  # a day and a bit later
        await session.execute(update(MediaUpload).where(MediaUpload.id.in_(let_go))
                              .values(updated_at=datetime.now(UTC) - timedelta(days=1, minutes=1)))
    assert await files_sweep(media_job) == "removed 3"
    assert not any(storage.made(str(upload_id)).exists() for upload_id in let_go)
    for kept in (approved.photo_id, new):  # what the candidate shows stays
        assert storage.made(str(kept)).exists()
    async with sessions() as session:
        current = await session.get(Candidate, candidate.id)
        assert current is not None and current.clip_id == new
    view = await entry_view(sessions, storage, registry_of(), rejected.id, token)  # the candidate's page still says why
    assert view.reason == "Not your own song." and view.clip.urls == {}
    assert await files_sweep(media_job) == "removed 0"  # each removed once
