"""The worker's share of candidates' files and entries (gateway.core.worker_passes): its passes, listed by the
assembly (assembly/worker/passes.py), and the outbox topics it handles (assembly.worker.worker_jobs.outbox_handlers)."""

from __future__ import annotations

from typing import Any

from gateway.core.entries.entries_review import ENTRY_DECIDED_TOPIC
from gateway.core.media import uploads
from gateway.core.phone_texts import TEXT_CODE_PASS
from gateway.core.worker_passes import WorkerPass
from media.candidate_texts import on_entry_decided, text_code
from media.job_resources import MediaJobResources
from media.sweep import FILES_PASS, files_sweep, media_sweep
from media.upload_access import on_clip_visibility, on_media_access
from media.upload_jobs import PROCESS_PASS, on_upload_received, process_upload_pass


def media_handlers(ctx: MediaJobResources) -> dict[str, Any]:
    """The outbox topics of candidates' files and entries."""
    return {uploads.UPLOAD_RECEIVED_TOPIC: lambda payload: on_upload_received(ctx, payload),
            ENTRY_DECIDED_TOPIC: lambda payload: on_entry_decided(ctx, payload),
            uploads.CLIP_VISIBILITY_TOPIC: lambda payload: on_clip_visibility(ctx, payload),
            uploads.MEDIA_ACCESS_TOPIC: lambda payload: on_media_access(ctx, payload)}


PASSES = (
    WorkerPass(PROCESS_PASS, process_upload_pass),  # queued once an upload is received (queue_processing)
    # A one-time code, queued by the web process (`TEXT_CODE_PASS`: texts go out from jobs only).
    WorkerPass(TEXT_CODE_PASS, text_code),
    # Lost processing requeued; the files' part queued for a media worker (orphan uploads removed, former photos
    # moved), which has the storage's folder.
    WorkerPass("media-sweep", media_sweep, every=300),
    WorkerPass(FILES_PASS, files_sweep),
)
