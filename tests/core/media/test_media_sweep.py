"""The media sweep: uploads nobody took within a day go, files and all, by a media worker (the storage's folder is
on its host); what an entry holds stays; an upload whose processing was lost (a worker killed mid-job) is queued
again."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rq.job import JobStatus
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from assembly.worker.job_runtime import JobContext
from gateway.core.worker_passes import enqueue_pass
from gateway.db.engine import Sessions
from gateway.db.models import MediaUpload, UploadKind, UploadState
from gateway.jobs.queues import MEDIA_QUEUE, job_queue, sync_redis
from media.local_storage import LocalStorage
from media.sweep import FILES_PASS, UNPREPARED, files_sweep, media_sweep
from media.upload_jobs import PROCESS_PASS
from tests.factories import make_contest


async def an_upload(sessions: Sessions, storage: LocalStorage, tmp_path: Path, contest_id: int, *, age: timedelta,
                    attached: bool = False, state: UploadState = UploadState.READY) -> uuid.UUID:
    upload_id = uuid.uuid4()
    made = tmp_path / f"{upload_id}.mp4"
    made.write_bytes(b"clip")
    await storage.put(f"{upload_id}/360p.mp4", made, "video/mp4")
    when = datetime.now(UTC) - age
    async with sessions.begin() as session:
        session.add(MediaUpload(id=upload_id, contest_id=contest_id, kind=UploadKind.CLIP, storage="local",
                                max_bytes=100, expires_at=when, state=state, created_at=when, updated_at=when,
                                attached_at=when if attached else None))
    return upload_id


async def an_orphan(media_job: JobContext, sessions: Sessions, tmp_path: Path
                    ) -> tuple[LocalStorage, int, uuid.UUID]:
    """The media worker's storage, a contest, and an upload of it nothing has held for two days."""
    storage = media_job.media
    assert isinstance(storage, LocalStorage)
    contest = await make_contest(sessions, candidates=1)
    return storage, contest.id, await an_upload(sessions, storage, tmp_path, contest.id, age=timedelta(days=2))


async def test_uploads_nobody_took_within_a_day_are_removed_with_their_files(
        media_job: JobContext, sessions: Sessions, tmp_path: Path) -> None:
    storage, contest_id, orphan = await an_orphan(media_job, sessions, tmp_path)
    held = await an_upload(sessions, storage, tmp_path, contest_id, age=timedelta(days=2), attached=True)
    fresh = await an_upload(sessions, storage, tmp_path, contest_id, age=timedelta(hours=2))
    # The periodic sweep, which any worker takes, queues the files' part for a media worker, once, ahead of clips.
    queue = job_queue(sync_redis(media_job.settings.redis_url or ""), MEDIA_QUEUE)
    enqueue_pass(queue, PROCESS_PASS, str(fresh), job_id=f"process-{fresh}")
    assert await media_sweep(media_job) == "requeued 0, files' sweep queued"
    assert await media_sweep(media_job) == "requeued 0"
    assert queue.job_ids == [FILES_PASS, f"process-{fresh}"]
    assert storage.made(str(orphan)).exists()  # nothing removed by a worker that may not have the folder
    assert await files_sweep(media_job) == "removed 1"
    async with sessions() as session:
        left = set(await session.scalars(select(MediaUpload.id)))
    assert left == {held, fresh}
    assert not storage.made(str(orphan)).exists()
    assert (storage.made(str(held)) / "360p.mp4").exists() and (storage.made(str(fresh)) / "360p.mp4").exists()


async def test_a_received_upload_whose_processing_was_lost_is_queued_again_once(
        media_job: JobContext, sessions: Sessions, tmp_path: Path) -> None:
    storage = media_job.media
    assert isinstance(storage, LocalStorage)
    contest = await make_contest(sessions, candidates=1)
    lost = await an_upload(sessions, storage, tmp_path, contest.id, age=timedelta(hours=1),
                           state=UploadState.RECEIVED)
    await media_sweep(media_job)
    await media_sweep(media_job)
    queue = job_queue(sync_redis(media_job.settings.redis_url or ""), MEDIA_QUEUE)
    assert [job.args for job in queue.get_jobs()] == [[PROCESS_PASS, str(lost)]]


async def test_a_clip_whose_processing_failed_every_time_is_refused_with_a_reason(
        media_job: JobContext, sessions: Sessions, tmp_path: Path) -> None:
    storage = media_job.media
    assert isinstance(storage, LocalStorage)
    contest = await make_contest(sessions, candidates=1)
    stuck = await an_upload(sessions, storage, tmp_path, contest.id, age=timedelta(hours=1),
                            state=UploadState.RECEIVED)
    queue = job_queue(sync_redis(media_job.settings.redis_url or ""), MEDIA_QUEUE)
    job = enqueue_pass(queue, PROCESS_PASS, str(stuck), job_id=f"process-{stuck}")
    queue.remove(job)
    job.set_status(JobStatus.FAILED)  # as RQ leaves a job whose retries all timed out
    FailedJobRegistry(queue=queue).add(job, ttl=600)
    await media_sweep(media_job)
    async with sessions() as session:
        upload = await session.get(MediaUpload, stuck)
    assert upload is not None and upload.state is UploadState.REFUSED
    assert upload.refusal == UNPREPARED


async def test_a_clip_still_unprepared_after_hours_is_refused_so_its_candidate_can_send_another(
        media_job: JobContext, sessions: Sessions, tmp_path: Path) -> None:
    storage = media_job.media
    assert isinstance(storage, LocalStorage)
    contest = await make_contest(sessions, candidates=1)
    stuck = await an_upload(sessions, storage, tmp_path, contest.id, age=timedelta(hours=7),
                            state=UploadState.RECEIVED)
    recent = await an_upload(sessions, storage, tmp_path, contest.id, age=timedelta(hours=1),
                             state=UploadState.RECEIVED)
    assert (await media_sweep(media_job)).endswith("gave up on 1")
    async with sessions() as session:
        states = {u.id: (u.state, u.refusal) for u in await session.scalars(select(MediaUpload))}
    assert states[stuck] == (UploadState.REFUSED, UNPREPARED)
    assert states[recent] == (UploadState.RECEIVED, None)  # queued again instead


async def test_a_worker_without_the_storages_folder_removes_nothing_and_forgets_nothing(
        media_job: JobContext, sessions: Sessions, tmp_path: Path) -> None:
    storage, _, orphan = await an_orphan(media_job, sessions, tmp_path)
    # A worker in another container, or on another host: the same settings, but no folder where they point.
    elsewhere = replace(media_job, media=LocalStorage(tmp_path / "not-here", storage.upload_url, storage.files_url,
                                                      storage.secret_key))
    with pytest.raises(FileNotFoundError):
        await files_sweep(elsewhere)
    async with sessions() as session:
        assert await session.get(MediaUpload, orphan) is not None  # kept, for the media worker that can remove it
    assert await files_sweep(media_job) == "removed 1"
    assert not storage.made(str(orphan)).exists()
