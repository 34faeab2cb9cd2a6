"""The media sweep: processing nobody did is requeued, and the files nothing holds are removed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from rq.job import JobStatus

from gateway.core.media import uploads
from media.former_photos import move_former_photos
from media.job_resources import MediaJobResources, storage_of
from media.upload_jobs import queue_processing

UNPREPARED = "This clip could not be prepared: send another one (or the same one again)."


async def media_sweep(ctx: MediaJobResources) -> str:
    """Requeue processing nobody did (a lost enqueue, a killed worker); remove the files of uploads nothing has
    held for a day (never taken, replaced, a rejected entry's); move the former photos this host holds into the
    storage (media.former_photos). Run by a media worker (the `media` queue): the storage's folder is theirs."""
    now = datetime.now(UTC)
    abandoned = await uploads.abandon_stuck(ctx.sessions, now, UNPREPARED)
    late = await uploads.late_for_processing(ctx.sessions, now)
    storage = storage_of(ctx)
    for upload_id in late:
        if await storage.settle_late(ctx.sessions, str(upload_id)):
            continue
        if await asyncio.to_thread(queue_processing, ctx, str(upload_id)) is JobStatus.FAILED:
            await uploads.note_refused(ctx.sessions, upload_id, UNPREPARED)
    removed = 0
    for upload_id in await uploads.orphans(ctx.sessions, now):
        await storage.delete_upload(str(upload_id))
        removed += await uploads.forget(ctx.sessions, upload_id, now)
    moved = await move_former_photos(ctx.sessions, storage, ctx.settings.gateway_data_dir, now)
    return (f"requeued {len(late)}, removed {removed}" + (f", gave up on {len(abandoned)}" if abandoned else "")
            + (f", {moved}" if moved.moved or moved.broken else ""))
