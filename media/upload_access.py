"""Who may fetch an upload's files, told to the storage as it is now whenever it may have changed (an error
retries: the outbox delivers the topic again)."""

from __future__ import annotations

import uuid
from typing import Any

from gateway.core.media import uploads
from media.job_resources import MediaJobResources, storage_of


async def on_media_access(ctx: MediaJobResources, payload: dict[str, Any]) -> None:
    """Tell the storage whether viewers may fetch an upload's files, and whether it is taken down (no link at
    all), as it is now (an error retries)."""
    upload_id = uuid.UUID(str(payload["upload_id"]))
    await settle_access(ctx, upload_id)


async def settle_access(ctx: MediaJobResources, upload_id: uuid.UUID) -> None:
    upload = await uploads.upload_of(ctx.sessions, upload_id)
    if upload is not None and upload.removed_at is None:
        access = await uploads.access_to(ctx.sessions, upload_id)
        await storage_of(ctx).withhold(str(upload_id), access is not uploads.Access.PUBLIC,
                                       taken_down=access is uploads.Access.TAKEN_DOWN)


async def on_clip_visibility(ctx: MediaJobResources, payload: dict[str, Any]) -> None:
    """The former topic (a candidate hidden or shown): their clip's and photo's access, as it is now."""
    for upload_id in await uploads.candidate_media(ctx.sessions, int(payload["candidate_id"])):
        await settle_access(ctx, upload_id)
