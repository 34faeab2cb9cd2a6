"""Each upload's probe and transcode, on the `media` queue, which only the media workers take: at most
`MEDIA_WORKERS` ffmpeg at once, never in a worker that relays votes.

The transcode itself runs in ffmpeg under media.lowly (niced, idle-scheduled, memory- and time-bounded): the
job only waits for it."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from pathlib import Path
from typing import Any

from rq import Retry
from rq.job import JobStatus

from gateway.core.entries.entries_review import photo_ready
from gateway.core.media import uploads
from gateway.core.media_storage import MediaStorage, file_key
from gateway.core.worker_passes import enqueue_pass
from gateway.db.models import MediaUpload, UploadKind, UploadState
from gateway.jobs.queues import MEDIA_QUEUE, job_queue, sync_redis
from media.job_resources import MediaJobResources, storage_of
from media.photos import NotAnImage, PhotoTooLarge, reencode, sized
from media.processing import ProcessedClip, process_clip

PROCESS_PASS = "process-upload"
# Two 720p encodes of a minute on a busy 2-core machine, with room: media.ffmpeg bounds each run by itself.
PROCESS_TIMEOUT_SECONDS = 1800
ENDED = (JobStatus.FINISHED, JobStatus.STOPPED, JobStatus.CANCELED)


def queue_processing(ctx: MediaJobResources, upload_id: str) -> JobStatus | None:
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


async def on_upload_received(ctx: MediaJobResources, payload: dict[str, Any]) -> None:
    await asyncio.to_thread(queue_processing, ctx, str(payload["upload_id"]))


async def process_upload_pass(ctx: MediaJobResources, upload_id: str) -> str:
    return await process_upload(ctx, uuid.UUID(upload_id))


async def process_upload(ctx: MediaJobResources, upload_id: uuid.UUID) -> str:
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


async def _clip(ctx: MediaJobResources, storage: MediaStorage, upload: MediaUpload, source: Path,
                work: Path) -> str:
    made = await asyncio.to_thread(process_clip, source, work / "made")
    if not isinstance(made, ProcessedClip):
        await uploads.note_refused(ctx.sessions, upload.id, made.reason)
        return f"refused: {made.reason}"
    files: dict[str, dict[str, str]] = {}
    named = {**{name: (path, "video/mp4") for name, path in made.renditions.items()},
             "poster": (made.poster, "image/jpeg"), "preview": (made.preview, "video/mp4"),
             "thumb": (made.thumb, "image/jpeg")}
    if not storage.sizes_by_url:
        named.update({path.stem: (path, "image/jpeg") for path in made.poster_sizes.values()})
    for name, (path, content_type) in named.items():
        key = file_key(str(upload.id), path.name)
        await storage.put(key, path, content_type)
        files[name] = {"key": key, "content_type": content_type}
    await uploads.note_ready(ctx.sessions, upload.id, made.facts.noted(), files)
    return "ready"


async def _photo(ctx: MediaJobResources, storage: MediaStorage, upload: MediaUpload, source: Path,
                 work: Path) -> str:
    try:
        jpeg = await asyncio.to_thread(reencode, source.read_bytes())
    except (NotAnImage, PhotoTooLarge) as exc:
        await uploads.note_refused(ctx.sessions, upload.id, exc.message)
        return f"refused: {exc.message}"
    facts, files = await store_photo(storage, str(upload.id), jpeg, work)
    await uploads.note_ready(ctx.sessions, upload.id, facts, files)
    await photo_ready(ctx.sessions, storage, upload.id)  # its candidate may exist already (approved, the demo)
    return "ready"


async def store_photo(storage: MediaStorage, upload_id: str, jpeg: bytes, work: Path
                      ) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """A photo re-encoded (media.photos.reencode) put in the storage as the upload's, with the small copies pages
    show where the storage does not make them: its facts and the files its upload names."""
    target = work / "photo.jpg"
    target.write_bytes(jpeg)
    key = file_key(upload_id, "photo.jpg")
    await storage.put(key, target, "image/jpeg")
    if not storage.sizes_by_url:  # beside the photo, as the storage's sized_url names them
        for size, copy in (await asyncio.to_thread(sized, jpeg)).items():
            (work / size.name_of("photo.jpg")).write_bytes(copy)
            await storage.put(file_key(upload_id, size.name_of("photo.jpg")), work / size.name_of("photo.jpg"),
                              "image/jpeg")
    return {"bytes": len(jpeg)}, {"photo": {"key": key, "content_type": "image/jpeg"}}
