"""What a candidate's entry refuses, each change nothing: a wrong or spent code, another number's upload, a
refused clip, rules not accepted, a full call, a wrong private link, a decided entry's clip; and what an
organiser cannot do once a contest is closed."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from assembly.worker.job_runtime import JobContext
from gateway.core.entries.entries_review import approve_entries
from gateway.core.errors import Conflict
from gateway.core.media import uploads
from gateway.core.phone_texts import TEXT_CODE_PASS
from gateway.db.engine import Sessions
from gateway.db.models import Contest, ContestStatus, Entry, UploadState
from gateway.jobs.queues import job_queue, sync_redis
from media.candidate_texts import text_code
from media.upload_jobs import process_upload
from tests.core.entries.test_entering import OWNER, open_call, proven, upload
from tests.fakes.africastalking import FakeAt
from tests.media.code_requests import ask_code
from tests.media.conftest import Entering
from tests.media.test_processing import make_clip


async def texted_code(entering: Entering, job: JobContext, fake_at: FakeAt, slug: str, phone: str) -> str:
    asked = await ask_code(entering.web, slug, phone)
    assert asked.status == 202
    queued = [j for j in job_queue(sync_redis(entering.settings.redis_url or "")).get_jobs()
              if j.args[:1] == [TEXT_CODE_PASS]]
    await text_code(job, *queued[-1].args[1:])
    found = re.search(r"\b(\d{6})\b", fake_at.texts()[-1])
    assert found is not None
    return found.group(1)


async def answer(entering: Entering, slug: str, phone: str, code: str) -> Any:
    return await entering.web.post(f"/api/v1/contests/{slug}/entries/proof", json={"msisdn": phone, "code": code})


async def error_of(response: Any, status: int) -> str:
    assert response.status == status, await response.text()
    return str((await response.json())["error"]["code"])


async def test_a_wrong_code_a_spent_code_and_a_sixth_try_prove_nothing(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, sessions: Sessions) -> None:
    contest = await open_call(sessions)
    phone = "+237670002201"
    code = await texted_code(entering, media_job, fake_at, contest.slug, phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert await error_of(await answer(entering, contest.slug, phone, wrong), 422) == "wrong_code"
    assert (await answer(entering, contest.slug, phone, code)).status == 200
    assert await error_of(await answer(entering, contest.slug, phone, code), 422) == "wrong_code"  # used once

    other = "+237670002202"
    code = await texted_code(entering, media_job, fake_at, contest.slug, other)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        await answer(entering, contest.slug, other, wrong)
    assert await error_of(await answer(entering, contest.slug, other, code), 422) == "wrong_code"  # guessed out


async def test_an_entry_takes_neither_another_numbers_upload_nor_a_refused_clip_nor_unaccepted_rules(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, sessions: Sessions, tmp_path: Path) -> None:
    contest = await open_call(sessions)
    awa = await proven(entering, media_job, fake_at, contest.slug, "+237670002301")
    ben = await proven(entering, media_job, fake_at, contest.slug, "+237670002302")
    awas_clip = await upload(entering, contest.slug, awa, make_clip(tmp_path / "a.mp4").read_bytes())
    entries = f"/api/v1/contests/{contest.slug}/entries"
    stolen = await entering.web.post(entries, json={"proof": ben, "name": "Ben", "rules_accepted": True,
                                                    "clip_id": awas_clip})
    assert await error_of(stolen, 400) == "unknown_upload"
    no_rules = await entering.web.post(entries, json={"proof": awa, "name": "Awa", "rules_accepted": False,
                                                      "clip_id": awas_clip})
    assert await error_of(no_rules, 400) == "rules_not_accepted"
    text_file = await upload(entering, contest.slug, ben, b"not a clip at all" * 20)
    assert (await process_upload(media_job, uuid.UUID(text_file))).startswith("refused")
    refused = await entering.web.post(entries, json={"proof": ben, "name": "Ben", "rules_accepted": True,
                                                     "clip_id": text_file})
    assert await error_of(refused, 400) == "upload_refused"
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Entry)) == 0


async def test_a_full_call_a_wrong_link_and_a_decided_entry_refuse(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, sessions: Sessions, tmp_path: Path) -> None:
    contest = await open_call(sessions, max_entries=1)
    awa = await proven(entering, media_job, fake_at, contest.slug, "+237670002401")
    clip = await upload(entering, contest.slug, awa, make_clip(tmp_path / "a.mp4").read_bytes())
    entries = f"/api/v1/contests/{contest.slug}/entries"
    entry = await (await entering.web.post(entries, json={"proof": awa, "name": "Awa", "rules_accepted": True,
                                                          "clip_id": clip})).json()
    ben = await proven(entering, media_job, fake_at, contest.slug, "+237670002402")
    full = await entering.web.post(f"{entries}/uploads", json={"proof": ben, "kind": "clip"})
    assert await error_of(full, 409) == "entries_full"
    mine = f"/api/v1/entries/{entry['entry_id']}"
    assert (await entering.web.get(mine, params={"token": "guessed"})).status == 404
    assert await error_of(await entering.web.post(f"{mine}/uploads", json={"token": "guessed"}), 404) \
        == "entry_not_found"
    await process_upload(media_job, uuid.UUID(clip))
    await approve_entries(sessions, media_job.media, OWNER,  # type: ignore[arg-type]
                          [uuid.UUID(entry["entry_id"])], datetime.now(UTC))
    decided = await entering.web.post(f"{mine}/uploads", json={"token": entry["token"]})
    assert await error_of(decided, 409) == "entry_decided"


async def test_a_closed_contest_takes_no_new_candidate_and_a_refused_clip_stays_refused(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, sessions: Sessions, tmp_path: Path) -> None:
    contest = await open_call(sessions)
    awa = await proven(entering, media_job, fake_at, contest.slug, "+237670002501")
    clip = await upload(entering, contest.slug, awa, make_clip(tmp_path / "a.mp4").read_bytes())
    entry = await (await entering.web.post(f"/api/v1/contests/{contest.slug}/entries", json={
        "proof": awa, "name": "Awa", "rules_accepted": True, "clip_id": clip})).json()
    await process_upload(media_job, uuid.UUID(clip))
    refused = await upload(entering, contest.slug, awa, b"text" * 50)
    await process_upload(media_job, uuid.UUID(refused))
    async with sessions.begin() as session:
        closed = await session.get(Contest, contest.id)
        assert closed is not None
        closed.status = ContestStatus.CLOSED
    try:
        await approve_entries(sessions, media_job.media, OWNER,  # type: ignore[arg-type]
                              [uuid.UUID(entry["entry_id"])], datetime.now(UTC))
    except Conflict as exc:
        assert exc.code == "contest_closed"
    else:
        raise AssertionError("a closed contest took a new candidate")
    assert not await uploads.note_ready(sessions, uuid.UUID(refused), {}, {"360p": {"key": "x", "content_type": "v"}})
    after = await uploads.upload_of(sessions, uuid.UUID(refused))
    assert after is not None and after.state is UploadState.REFUSED  # a late or repeated job changes nothing
