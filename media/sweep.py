"""The media sweep: processing nobody did is requeued, the files nothing holds are removed, and the photos organisers
sent before photos went through the storage are moved into it.

Two parts. `media-sweep`, a periodic pass any worker takes, reads the database and queues: processing nobody did,
and, when there are files to remove or former photos left, the files' part (`media-files-sweep`) for a media worker,
once at a time and ahead of the clips waiting there. Only a media worker has the local storage's folder (the worker
that takes the periodic passes may be another container, or on another host: its removals would find nothing, and
the rows would be forgotten with their files still there) and it alone may decode a photo."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from rq.job import JobStatus

from gateway.core.entries import former_photos
from gateway.core.media import uploads
from gateway.core.worker_passes import enqueue_pass
from gateway.jobs.queues import MEDIA_QUEUE, job_queue, sync_redis
from media.former_photos import move_former_photos
from media.job_resources import MediaJobResources, storage_of
from media.upload_jobs import queue_processing

UNPREPARED = "This clip could not be prepared: send another one (or the same one again)."
FILES_PASS = "media-files-sweep"
FILES_TIMEOUT_SECONDS = 900
# A files' sweep that ended, well or not (the storage was down: the next sweep queues it again).
ENDED = (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)


async def media_sweep(ctx: MediaJobResources) -> str:
    """Requeue processing nobody did (a lost enqueue, a killed worker); queue the files' part for a media worker
    when uploads nothing has held for a day (never taken, replaced, a rejected entry's) or former photos are left."""
    now = datetime.now(UTC)
    abandoned = await uploads.abandon_stuck(ctx.sessions, now, UNPREPARED)
    late = await uploads.late_for_processing(ctx.sessions, now)
    storage = storage_of(ctx)
    for upload_id in late:
        if await storage.settle_late(ctx.sessions, str(upload_id)):
            continue
        if await asyncio.to_thread(queue_processing, ctx, str(upload_id)) is JobStatus.FAILED:
            await uploads.note_refused(ctx.sessions, upload_id, UNPREPARED)
    files = bool(await uploads.orphans(ctx.sessions, now, limit=1) or await former_photos.former_photos(ctx.sessions))
    queued = files and await asyncio.to_thread(queue_files_sweep, ctx)
    return (f"requeued {len(late)}" + (f", gave up on {len(abandoned)}" if abandoned else "")
            + (", files' sweep queued" if queued else ""))


def queue_files_sweep(ctx: MediaJobResources) -> bool:
    """The files' part queued for a media worker, ahead of the clips (blocking: run it in a thread); False while
    one is queued or running already: with no media worker, one waits, never one a sweep."""
    queue = job_queue(sync_redis(ctx.settings.redis_url or ""), MEDIA_QUEUE)
    existing = queue.fetch_job(FILES_PASS)
    if existing is not None and existing.get_status() not in ENDED:
        return False
    if existing is not None:
        existing.delete()
    enqueue_pass(queue, FILES_PASS, job_id=FILES_PASS, job_timeout=FILES_TIMEOUT_SECONDS, result_ttl=600,
                 failure_ttl=86400, at_front=True)
    return True


async def files_sweep(ctx: MediaJobResources) -> str:
    """A media worker's: the files of uploads nothing has held for a day removed, then their rows; the former
    photos this host holds moved into the storage (media.former_photos)."""
    now = datetime.now(UTC)
    storage = storage_of(ctx)
    removed = 0
    for upload_id in await uploads.orphans(ctx.sessions, now):
        await storage.delete_upload(str(upload_id))
        removed += await uploads.forget(ctx.sessions, upload_id, now)
    moved = await move_former_photos(ctx.sessions, storage, ctx.settings.gateway_data_dir, now)
    return f"removed {removed}" + (f", {moved}" if moved.moved or moved.broken else "")
