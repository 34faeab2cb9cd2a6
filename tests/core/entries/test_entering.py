"""A candidate enters a video contest as from a phone: proves their number with the code AT delivers, sends the
clip in chunks to the media server (never to the web), sends the entry; the media worker prepares the clip; the
organiser approves it and the candidate is texted their code. And each way it can go wrong leaves nothing."""

from __future__ import annotations

import io
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from redis.asyncio import Redis
from sqlalchemy import func, select, update

from assembly.worker.job_runtime import JobContext
from gateway.core.audit import Actor
from gateway.core.contests.contests_admin import set_candidate_status
from gateway.core.entries.entries_review import approve_entries, reject_entry
from gateway.core.errors import RateLimited
from gateway.core.phone_texts import TEXT_CODE_PASS
from gateway.db.engine import Sessions
from gateway.db.models import (
    Candidate,
    Contest,
    ContestStatus,
    Entry,
    EntryCall,
    EntryStatus,
    MediaUpload,
    OutboxMessage,
)
from gateway.jobs.queues import job_queue, sync_redis
from gateway.kit.phone_proof import new_code
from media.candidate_texts import TEXTING_CHANNEL, on_entry_decided, text_code
from media.upload_jobs import process_upload
from tests.factories import make_contest
from tests.fakes.africastalking import FakeAt
from tests.media.code_requests import ask_code
from tests.media.conftest import Entering
from tests.media.test_processing import make_clip
from tests.media.tus_sending import send_by_tus

PHONE = "+237670001122"
OWNER = Actor(None, "owner@example.org", "owner")


async def open_call(sessions: Sessions, **overrides: Any) -> Contest:
    contest = await make_contest(sessions, candidates=3)
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        session.add(EntryCall(contest_id=contest.id, **{
            "opens_at": now - timedelta(hours=1), "closes_at": now + timedelta(days=7),
            "rules": "One clip, your own work.", "max_entries": None, **overrides}))
    return contest


async def proven(entering: Entering, job: JobContext, fake_at: FakeAt, slug: str, phone: str = PHONE) -> str:
    """Ask for a code, let the worker text it (AT's fake receives it), answer with it."""
    asked = await ask_code(entering.web, slug, phone)
    assert asked.status == 202, await asked.text()
    queued = [j for j in job_queue(sync_redis(entering.settings.redis_url or "")).get_jobs()
              if j.args[:1] == [TEXT_CODE_PASS]]
    await text_code(job, *queued[-1].args[1:])
    code = re.search(r"\b(\d{6})\b", fake_at.texts()[-1])
    assert code is not None and fake_at.sent[-1]["to"] == phone
    answer = await entering.web.post(f"/api/v1/contests/{slug}/entries/proof",
                                     json={"msisdn": phone, "code": code.group(1)})
    assert answer.status == 200, await answer.text()
    return str((await answer.json())["proof"])


async def upload(entering: Entering, slug: str, proof: str, data: bytes, kind: str = "clip") -> str:
    granted = await entering.web.post(f"/api/v1/contests/{slug}/entries/uploads", json={"proof": proof, "kind": kind})
    assert granted.status == 201, await granted.text()
    grant = await granted.json()
    await send_by_tus(entering.media, grant, data)
    return str(grant["upload_id"])


async def test_a_candidate_enters_is_approved_and_is_texted_their_code(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, sessions: Sessions, tmp_path: Path) -> None:
    contest = await open_call(sessions)
    proof = await proven(entering, media_job, fake_at, contest.slug)
    clip_id = await upload(entering, contest.slug, proof, make_clip(tmp_path / "mine.mp4").read_bytes())
    sent = await entering.web.post(f"/api/v1/contests/{contest.slug}/entries", json={
        "proof": proof, "name": "Awa Nkeng", "bio": "Singer from Bafoussam", "rules_accepted": True,
        "clip_id": clip_id, "language": "en"})
    assert sent.status == 201, await sent.text()
    entry = await sent.json()
    assert await process_upload(media_job, uuid.UUID(clip_id)) == "ready"
    html = await (await entering.web.get(entry["link"] + "&lang=en")).text()
    assert "waits for the organiser" in html and 'preload="none"' in html
    source = unescape(html.split('<source src="', 1)[1].split('"', 1)[0])
    assert source.startswith(str(entering.media.make_url("/files/")))  # from the media server, not the web
    clip = await entering.media.get(source.split("/", 3)[3].join(["/", ""]))  # the candidate's signed link
    assert clip.status == 200 and clip.headers["Content-Type"] == "video/mp4"
    assert clip.headers["Cache-Control"].startswith("private")
    # Nothing of a pending entry is public: its clip at its plain address is not served to anyone.
    assert (await entering.media.get(f"/files/{clip_id}/360p.mp4")).status == 404
    [candidate] = await approve_entries(sessions, media_job.media, OWNER,  # type: ignore[arg-type]
                                        [uuid.UUID(entry["entry_id"])], datetime.now(UTC))
    assert candidate.code == "04" and candidate.name == "Awa Nkeng"
    async with sessions() as session:
        notice = await session.scalar(select(OutboxMessage.payload).where(OutboxMessage.topic == "entry.decided"))
    assert notice is not None
    await on_entry_decided(media_job, notice)
    assert "you are candidate 04" in fake_at.texts()[-1] and f"/c/{contest.slug}/04" in fake_at.texts()[-1]
    status = await (await entering.web.get(f"/api/v1/entries/{entry['entry_id']}",
                                           params={"token": entry["token"]})).json()
    assert status["status"] == "approved" and status["candidate_code"] == "04"
    assert TEXTING_CHANNEL == "sms"
    public = await entering.media.get(f"/files/{clip_id}/360p.mp4")  # approved: anyone may watch it
    assert public.status == 200 and public.headers["Cache-Control"] == "public, max-age=60"
    await set_candidate_status(sessions, OWNER, candidate.id, "hidden")  # the clip is hidden with its candidate
    assert (await entering.media.get(f"/files/{clip_id}/360p.mp4")).status == 404


async def test_a_clip_that_is_not_a_video_is_refused_with_its_reason_and_cannot_be_approved(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, sessions: Sessions) -> None:
    contest = await open_call(sessions)
    proof = await proven(entering, media_job, fake_at, contest.slug)
    clip_id = await upload(entering, contest.slug, proof, b"this is a text file, not a video" * 10)
    sent = await entering.web.post(f"/api/v1/contests/{contest.slug}/entries", json={
        "proof": proof, "name": "Awa", "rules_accepted": True, "clip_id": clip_id})
    entry = await sent.json()
    assert (await process_upload(media_job, uuid.UUID(clip_id))).startswith("refused")
    page = await (await entering.web.get(entry["link"] + "&lang=en")).text()
    assert "Your clip cannot enter: This file is not a video" in page
    french = await (await entering.web.get(entry["link"] + "&lang=fr")).text()
    assert "Ce fichier n&#39;est pas une vidéo" in french
    refused = await entering.media.get(f"/files/{clip_id}/360p.mp4")
    assert refused.status == 404
    try:
        await approve_entries(sessions, media_job.media, OWNER,  # type: ignore[arg-type]
                              [uuid.UUID(entry["entry_id"])], datetime.now(UTC))
    except Exception as exc:
        assert getattr(exc, "code", None) == "clip_not_ready"
    else:
        raise AssertionError("an entry without a watchable clip was approved")


async def test_an_entry_from_a_number_that_did_not_prove_itself_is_refused(
        entering: Entering, sessions: Sessions) -> None:
    contest = await open_call(sessions)
    for proof in ("", "not-a-proof", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIrMjM3NjcwMDAxMTIyIn0.forged"):
        answer = await entering.web.post(f"/api/v1/contests/{contest.slug}/entries/uploads",
                                         json={"proof": proof, "kind": "clip"})
        assert answer.status == 400 and (await answer.json())["error"]["code"] == "number_not_proven"
    wrong = await entering.web.post(f"/api/v1/contests/{contest.slug}/entries/proof",
                                    json={"msisdn": PHONE, "code": "123456"})
    assert wrong.status == 422 and (await wrong.json())["error"]["code"] == "wrong_code"
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(MediaUpload)) == 0


async def test_an_entry_whose_clip_never_arrived_is_refused_and_a_second_entry_from_one_number_too(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, sessions: Sessions, tmp_path: Path) -> None:
    contest = await open_call(sessions)
    proof = await proven(entering, media_job, fake_at, contest.slug)
    granted = await entering.web.post(f"/api/v1/contests/{contest.slug}/entries/uploads",
                                      json={"proof": proof, "kind": "clip"})
    never_sent = (await granted.json())["upload_id"]
    answer = await entering.web.post(f"/api/v1/contests/{contest.slug}/entries", json={
        "proof": proof, "name": "Awa", "rules_accepted": True, "clip_id": never_sent})
    assert answer.status == 400 and (await answer.json())["error"]["code"] == "upload_unfinished"
    clip_id = await upload(entering, contest.slug, proof, make_clip(tmp_path / "a.mp4").read_bytes())
    first = await entering.web.post(f"/api/v1/contests/{contest.slug}/entries", json={
        "proof": proof, "name": "Awa", "rules_accepted": True, "clip_id": clip_id})
    assert first.status == 201
    other = await upload(entering, contest.slug, proof, make_clip(tmp_path / "b.mp4").read_bytes())
    second = await entering.web.post(f"/api/v1/contests/{contest.slug}/entries", json={
        "proof": proof, "name": "Awa again", "rules_accepted": True, "clip_id": other})
    assert second.status == 409 and (await second.json())["error"]["code"] == "entry_exists"
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Entry)) == 1


async def test_a_rejected_candidate_is_told_why_by_text(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, sessions: Sessions, tmp_path: Path) -> None:
    contest = await open_call(sessions)
    proof = await proven(entering, media_job, fake_at, contest.slug)
    clip_id = await upload(entering, contest.slug, proof, make_clip(tmp_path / "a.mp4").read_bytes())
    entry = await (await entering.web.post(f"/api/v1/contests/{contest.slug}/entries", json={
        "proof": proof, "name": "Awa", "rules_accepted": True, "clip_id": clip_id, "language": "fr"})).json()
    await reject_entry(sessions, OWNER, uuid.UUID(entry["entry_id"]), "Le son est inaudible.", datetime.now(UTC))
    async with sessions() as session:
        notice = await session.scalar(select(OutboxMessage.payload).where(OutboxMessage.topic == "entry.decided"))
        assert await session.scalar(select(func.count()).select_from(Candidate)
                                    .where(Candidate.contest_id == contest.id)) == 3
        assert (await session.get(Entry, uuid.UUID(entry["entry_id"]))).status is EntryStatus.REJECTED  # type: ignore[union-attr]
    assert notice is not None
    await on_entry_decided(media_job, notice)
    await on_entry_decided(media_job, notice)  # a delivery run twice texts once
    assert fake_at.texts()[-1].endswith("n'a pas été retenue : Le son est inaudible.")
    assert sum("retenue" in text for text in fake_at.texts()) == 1


async def test_a_candidate_approved_before_the_contest_is_published_is_told_when_their_page_opens(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, sessions: Sessions, tmp_path: Path) -> None:
    contest = await open_call(sessions)
    async with sessions.begin() as session:  # the organiser is still preparing it: its pages are not public
        await session.execute(update(Contest).where(Contest.id == contest.id).values(status=ContestStatus.DRAFT))
    proof = await proven(entering, media_job, fake_at, contest.slug)
    clip_id = await upload(entering, contest.slug, proof, make_clip(tmp_path / "a.mp4").read_bytes())
    entry = await (await entering.web.post(f"/api/v1/contests/{contest.slug}/entries", json={
        "proof": proof, "name": "Awa", "rules_accepted": True, "clip_id": clip_id, "language": "en"})).json()
    assert await process_upload(media_job, uuid.UUID(clip_id)) == "ready"
    await approve_entries(sessions, media_job.media, OWNER,  # type: ignore[arg-type]
                          [uuid.UUID(entry["entry_id"])], datetime.now(UTC))
    async with sessions() as session:
        notice = await session.scalar(select(OutboxMessage.payload).where(OutboxMessage.topic == "entry.decided"))
    assert notice is not None
    await on_entry_decided(media_job, notice)
    assert "Your page opens with the contest" in fake_at.texts()[-1] and "Share your page" not in fake_at.texts()[-1]
    assert (await entering.web.get(f"/c/{contest.slug}/04")).status == 404  # why the text does not say "share"


async def test_entries_are_refused_outside_the_call_dates(entering: Entering, sessions: Sessions) -> None:
    now = datetime.now(UTC)
    contest = await open_call(sessions, opens_at=now - timedelta(days=3), closes_at=now - timedelta(days=1))
    answer = await entering.web.post(f"/api/v1/contests/{contest.slug}/entries/code", json={"msisdn": PHONE})
    assert answer.status == 409 and (await answer.json())["error"]["code"] == "entries_closed"
    page = await entering.web.get(f"/c/{contest.slug}/enter?lang=en")
    assert "Entries are not open for this contest." in await page.text()


async def test_codes_go_only_to_mobiles_of_the_countries_served(entering: Entering, sessions: Sessions) -> None:
    contest = await open_call(sessions)
    for abroad in ("+33612345678", "+237222231234"):  # a French mobile; a Cameroonian fixed line
        answer = await entering.web.post(f"/api/v1/contests/{contest.slug}/entries/code", json={"msisdn": abroad})
        assert answer.status == 400 and (await answer.json())["error"]["code"] == "number_not_served"
    queued = job_queue(sync_redis(entering.settings.redis_url or "")).get_jobs()
    assert [job for job in queued if job.args[:1] == [TEXT_CODE_PASS]] == []


async def test_codes_stop_for_the_day_once_the_days_budget_is_spent_and_only_that_budget(redis: Redis) -> None:
    noon = (time.time() // 86400) * 86400 + 43200  # the day's budget counts by day: every ask in one
    await new_code(redis, "+237670000101", "entry", "41.202.1.1", per_day=2, scope="contest:1", now=noon)
    await new_code(redis, "+237670000102", "entry", "41.202.1.2", per_day=2, scope="contest:1", now=noon)
    with pytest.raises(RateLimited):  # another number, another address: the day's budget is for all of them
        await new_code(redis, "+237670000103", "entry", "41.202.1.3", per_day=2, scope="contest:1", now=noon)
    # Another contest's budget, and the payout wallets' (for a number that just had an entry code), are apart.
    await new_code(redis, "+237670000104", "entry", "41.202.1.4", per_day=2, scope="contest:2", now=noon)
    await new_code(redis, "+237670000102", "payout-account", "41.202.1.2", per_day=2, now=noon)
    with pytest.raises(RateLimited):  # that number's own minute, for payout codes now
        await new_code(redis, "+237670000102", "payout-account", "41.202.1.2", per_day=2, now=noon)


async def test_a_photo_prepared_after_the_approval_becomes_the_candidates(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, sessions: Sessions, tmp_path: Path) -> None:
    contest = await open_call(sessions)
    proof = await proven(entering, media_job, fake_at, contest.slug)
    clip_id = await upload(entering, contest.slug, proof, make_clip(tmp_path / "a.mp4").read_bytes())
    picture = io.BytesIO()
    Image.new("RGB", (900, 1200), (200, 60, 40)).save(picture, format="PNG")
    photo_id = await upload(entering, contest.slug, proof, picture.getvalue(), kind="photo")
    entry = await (await entering.web.post(f"/api/v1/contests/{contest.slug}/entries", json={
        "proof": proof, "name": "Awa", "rules_accepted": True, "clip_id": clip_id, "photo_id": photo_id})).json()
    assert await process_upload(media_job, uuid.UUID(clip_id)) == "ready"
    [candidate] = await approve_entries(sessions, media_job.media, OWNER,  # type: ignore[arg-type]
                                        [uuid.UUID(entry["entry_id"])], datetime.now(UTC))
    assert candidate.photo_url is None  # the photo is still being prepared
    assert await process_upload(media_job, uuid.UUID(photo_id)) == "ready"
    async with sessions() as session:
        kept = await session.get(Candidate, candidate.id)
    assert kept is not None and kept.photo_url is not None and kept.photo_url.endswith(f"/{photo_id}/photo.jpg")
    served = await entering.media.get(f"/files/{photo_id}/photo.jpg")
    assert served.status == 200 and served.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(await served.read())) as photo:
        assert photo.format == "JPEG" and max(photo.size) <= 800


async def test_the_entry_page_names_each_step_once_and_sets_the_rules_apart(entering: Entering,
                                                                            sessions: Sessions) -> None:
    contest = await open_call(sessions)
    html = await (await entering.web.get(f"/c/{contest.slug}/enter?lang=en")).text()
    assert html.count("1. Your phone number") == 1 and html.count("2. Your entry") == 1
    assert '<label for="msisdn">Mobile number</label>' in html and 'aria-describedby="msisdn-hint"' in html
    # The rules are a heading of their own (folded), their text apart from the first step's heading.
    rules = re.search(r'<details class="rules"><summary><h2>The rules</h2></summary>'
                      r'<div class="rules-text">One clip, your own work.</div></details>', html)
    assert rules and html.index("<h2>1. Your phone number</h2>") > rules.end()
