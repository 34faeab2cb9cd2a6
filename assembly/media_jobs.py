"""The jobs of candidates' files: each upload's probe and transcode (on the `media` queue, which only the media
workers take: at most `MEDIA_WORKERS` ffmpeg at once, never in a worker that relays votes), the
texts candidates get, who may fetch the files (told to the storage), and the sweep that requeues lost
processing and removes files nothing holds.

The transcode itself runs in ffmpeg under media.lowly (niced, idle-scheduled, memory- and time-bounded): the
job only waits for it."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rq import Retry
from rq.job import JobStatus

from assembly.job_runtime import JobContext
from gateway.core.entries import entry_texts
from gateway.core.entries.entries_review import ENTRY_DECIDED_TOPIC, photo_ready
from gateway.core.media import uploads
from gateway.core.media_storage import MediaStorage, file_key
from gateway.core.phone_texts import TEXT_CODE_PASS
from gateway.core.worker_passes import WorkerPass, enqueue_pass
from gateway.db.models import (
    Candidate,
    Contest,
    ContestStatus,
    Entry,
    EntryStatus,
    MediaUpload,
    UploadKind,
    UploadState,
)
from gateway.jobs.queues import MEDIA_QUEUE, job_queue, sync_redis
from media.photos import NotAnImage, PhotoTooLarge, reencode
from media.processing import ProcessedClip, process_clip

log = logging.getLogger(__name__)
PROCESS_PASS = "process-upload"
# Two 720p encodes of a minute on a busy 2-core machine, with room: media.ffmpeg bounds each run by itself.
PROCESS_TIMEOUT_SECONDS = 1800
TEXTING_CHANNEL = "sms"
ENDED = (JobStatus.FINISHED, JobStatus.STOPPED, JobStatus.CANCELED)
UNPREPARED = "This clip could not be prepared: send another one (or the same one again)."


def queue_processing(ctx: JobContext, upload_id: str) -> JobStatus | None:
    """One processing job per upload (its id is the upload's: a repeated notification queues nothing more). A
    job that ended without preparing the upload (a worker killed mid-job) is queued again; one that failed after
    its retries is left failed (its status returned: the sweep refuses the clip)."""
    queue = job_queue(sync_redis(ctx.settings.redis_url or ""), MEDIA_QUEUE)
    job_id = f"process-{upload_id}"
    existing = queue.fetch_job(job_id)
    status = existing.get_status() if existing is not None else None
    if status is JobStatus.FAILED:
        return status
    if existing is not None and status in ENDED:
        existing.delete()
    elif existing is not None:
        return status
    # A run that timed out on a busy machine (media.ffmpeg.FfmpegTimedOut) is tried twice more, later.
    enqueue_pass(queue, PROCESS_PASS, upload_id, job_id=job_id, job_timeout=PROCESS_TIMEOUT_SECONDS, result_ttl=600,
                  failure_ttl=7 * 86400, retry=Retry(max=2, interval=[120, 600]))
    return JobStatus.QUEUED


async def process_upload_pass(ctx: JobContext, upload_id: str) -> str:
    return await process_upload(ctx, uuid.UUID(upload_id))


def storage_of(ctx: JobContext) -> MediaStorage:
    if ctx.media is None:
        raise RuntimeError("this worker has no media storage")
    return ctx.media


async def process_upload(ctx: JobContext, upload_id: uuid.UUID) -> str:
    upload = await uploads.upload_of(ctx.sessions, upload_id)
    if upload is None or upload.state is not UploadState.RECEIVED:
        return "nothing to do"
    storage = storage_of(ctx)
    with tempfile.TemporaryDirectory(prefix="ballot-media-") as work:
        source = await storage.fetch_source(str(upload_id), Path(work))
        if upload.kind is UploadKind.PHOTO:
            outcome = await _photo(ctx, storage, upload, source, Path(work))
        else:
            outcome = await _clip(ctx, storage, upload, source, Path(work))
    await storage.processed(str(upload_id))
    return outcome


async def _clip(ctx: JobContext, storage: MediaStorage, upload: MediaUpload, source: Path, work: Path) -> str:
    made = await asyncio.to_thread(process_clip, source, work / "made")
    if not isinstance(made, ProcessedClip):
        await uploads.note_refused(ctx.sessions, upload.id, made.reason)
        return f"refused: {made.reason}"
    files: dict[str, dict[str, str]] = {}
    named = {**{name: (path, "video/mp4") for name, path in made.renditions.items()},
             "poster": (made.poster, "image/jpeg"), "preview": (made.preview, "video/mp4"),
             "thumb": (made.thumb, "image/jpeg")}
    for name, (path, content_type) in named.items():
        key = file_key(str(upload.id), path.name)
        await storage.put(key, path, content_type)
        files[name] = {"key": key, "content_type": content_type}
    facts = made.facts
    await uploads.note_ready(ctx.sessions, upload.id, {
        "seconds": facts.seconds, "width": facts.video[1] if facts.video else None,
        "height": facts.video[2] if facts.video else None, "codec": facts.video[0] if facts.video else None,
        "audio_streams": facts.audio_streams}, files)
    return "ready"


async def _photo(ctx: JobContext, storage: MediaStorage, upload: MediaUpload, source: Path, work: Path) -> str:
    try:
        jpeg = await asyncio.to_thread(reencode, source.read_bytes())
    except (NotAnImage, PhotoTooLarge) as exc:
        await uploads.note_refused(ctx.sessions, upload.id, exc.message)
        return f"refused: {exc.message}"
    target = work / "photo.jpg"
    target.write_bytes(jpeg)
    key = file_key(str(upload.id), "photo.jpg")
    await storage.put(key, target, "image/jpeg")
    await uploads.note_ready(ctx.sessions, upload.id, {"bytes": len(jpeg)},
                             {"photo": {"key": key, "content_type": "image/jpeg"}})
    await photo_ready(ctx.sessions, storage, upload.id)  # its entry may have been approved meanwhile
    return "ready"


async def on_media_access(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Tell the storage whether viewers may fetch an upload's files, as it is now (an error retries)."""
    upload_id = uuid.UUID(str(payload["upload_id"]))
    await settle_access(ctx, upload_id)


async def settle_access(ctx: JobContext, upload_id: uuid.UUID) -> None:
    upload = await uploads.upload_of(ctx.sessions, upload_id)
    if upload is not None and upload.removed_at is None:
        public = await uploads.served_publicly(ctx.sessions, upload_id)
        await storage_of(ctx).withhold(str(upload_id), not public)


async def on_clip_visibility(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The former topic (a candidate hidden or shown): their clip's and photo's access, as it is now."""
    for upload_id in await uploads.candidate_media(ctx.sessions, int(payload["candidate_id"])):
        await settle_access(ctx, upload_id)


async def on_upload_received(ctx: JobContext, payload: dict[str, Any]) -> None:
    await asyncio.to_thread(queue_processing, ctx, str(payload["upload_id"]))


async def on_entry_decided(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Text the candidate the organiser's decision (once: the SMS channel keeps one message per notice)."""
    texter = ctx.texters.get(TEXTING_CHANNEL)
    entry_id = uuid.UUID(str(payload["entry_id"]))
    async with ctx.sessions() as session:
        entry = await session.get(Entry, entry_id)
        contest = await session.get(Contest, entry.contest_id) if entry else None
        candidate = await session.get(Candidate, entry.candidate_id) if entry and entry.candidate_id else None
    if entry is None or contest is None or texter is None:
        log.warning("entry %s decided but nobody can be texted", entry_id)
        return
    if entry.status is EntryStatus.APPROVED and candidate is not None:
        link = f"{ctx.settings.public_base_url.rstrip('/')}/c/{contest.slug}/{candidate.code}"
        text = entry_texts.approved_text(entry.language, contest.name, candidate.code, link,
                                         live=contest.status is not ContestStatus.DRAFT)
    else:
        text = entry_texts.rejected_text(entry.language, contest.name, entry.reason or "")
    await texter(entry.msisdn, text, entry.id, f"entry-{entry.status.value}")


def media_handlers(ctx: JobContext) -> dict[str, Any]:
    """The outbox topics of candidates' files and entries (assembly.worker_jobs.outbox_handlers)."""
    return {uploads.UPLOAD_RECEIVED_TOPIC: lambda payload: on_upload_received(ctx, payload),
            ENTRY_DECIDED_TOPIC: lambda payload: on_entry_decided(ctx, payload),
            uploads.CLIP_VISIBILITY_TOPIC: lambda payload: on_clip_visibility(ctx, payload),
            uploads.MEDIA_ACCESS_TOPIC: lambda payload: on_media_access(ctx, payload)}


async def text_code(ctx: JobContext, msisdn: str, text: str, notice_id: str) -> None:
    texter = ctx.texters.get(TEXTING_CHANNEL)
    if texter is None:
        log.warning("no channel texts phones: the code for %s is not sent", msisdn[:-4] + "****")
        return
    await texter(msisdn, text, uuid.UUID(notice_id), "code")


async def media_sweep(ctx: JobContext) -> str:
    """Requeue processing nobody did (a lost enqueue, a killed worker); remove the files of uploads nothing has
    held for a day (never taken, replaced, a rejected entry's)."""
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
    return f"requeued {len(late)}, removed {removed}" + (f", gave up on {len(abandoned)}" if abandoned else "")


PASSES = (
    WorkerPass(PROCESS_PASS, process_upload_pass),  # queued once an upload is received (queue_processing)
    # A one-time code, queued by the web process (`TEXT_CODE_PASS`: texts go out from jobs only).
    WorkerPass(TEXT_CODE_PASS, text_code),
    WorkerPass("media-sweep", media_sweep, every=300),  # lost processing requeued, orphan uploads removed
)
