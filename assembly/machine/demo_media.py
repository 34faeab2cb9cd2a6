"""The demo candidates' clips and photos, made by the command that seeds (`gateway run`, `gateway seed --demo`) and
then taken as an entry's files are: the seed puts each where the local storage keeps what it received (as the
media server does at the end of an upload) and notes it received, which queues its processing; the media worker
makes the renditions, poster, thumbnail and preview of the clip (media.processing) and re-encodes the photo
(media.photos), as for any upload. On a 2-core machine the seed itself costs `gateway run`'s first start some
2 s for the eight (a small clip encoded fast at normal priority: media.ffmpeg.GENERATE); the clips show on the
pages once the media worker has prepared them, some 7 s after the service is up (on what the votes leave: longer
on a busy machine). No web process makes or reads any of it.

Only the local storage: Cloudinary makes the renditions itself, from a source sent to it (the demo sends none).
Once each: a candidate with a clip gets none again."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from sqlalchemy import select

from assembly.resources.media import local_storage
from assembly.settings import Settings
from gateway.core.media import uploads
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, UploadKind
from gateway.db.seed import DEMO_CANDIDATES
from media.demo_clips import Look, look_of, make_clip, make_photo
from media.ffmpeg import FfmpegFailed, FfmpegTimedOut
from media.local_storage import LocalStorage

log = logging.getLogger(__name__)


def demo_storage(settings: Settings) -> LocalStorage | None:
    """Where the demo's files go: the local storage, or none (MEDIA_STORAGE=cloudinary: no demo clips)."""
    return local_storage(settings) if settings.media_storage == "local" else None


async def give_demo_media(sessions: Sessions, storage: LocalStorage, contest_id: int) -> int:
    """A clip and a photo for each demo candidate without a clip, queued for processing; how many got them. A clip
    that cannot be made here (a machine too busy) leaves the demo without it, not without a demo."""
    looks = {code: look_of(index) for index, (code, _) in enumerate(DEMO_CANDIDATES)}
    async with sessions() as session:
        wanting = (await session.execute(select(Candidate.id, Candidate.code, Candidate.name).where(
            Candidate.contest_id == contest_id, Candidate.code.in_(looks), Candidate.clip_id.is_(None))
            .order_by(Candidate.code))).all()
    started, given = time.monotonic(), 0
    for candidate_id, code, name in wanting:
        try:
            given += await give_one(sessions, storage, contest_id, candidate_id, name, looks[code])
        except (FfmpegFailed, FfmpegTimedOut, OSError) as exc:
            log.warning("no demo clip for %s: %s", name, exc)
    if wanting:
        log.info("demo clips of %d candidates queued for processing in %.1f s", given, time.monotonic() - started)
    return given


async def give_one(sessions: Sessions, storage: LocalStorage, contest_id: int, candidate_id: int, name: str,
                   look: Look) -> bool:
    now = datetime.now(UTC)
    clip_id = await uploads.made_here(sessions, storage, contest_id, UploadKind.CLIP, now)
    photo_id = await uploads.made_here(sessions, storage, contest_id, UploadKind.PHOTO, now)
    clip, photo = storage.incoming(str(clip_id)), storage.incoming(str(photo_id))
    clip.parent.mkdir(parents=True, exist_ok=True)
    storage.source(str(clip_id)).parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(make_clip, clip, name, look)
    photo.write_bytes(await asyncio.to_thread(make_photo, name, look))
    # Both the candidate's before either is processed: a photo prepared first finds its candidate.
    if not await uploads.give_candidate(sessions, candidate_id, clip_id, photo_id, now):
        return False  # seeded meanwhile by another: these are orphans, the sweep removes them
    for upload_id, made in ((photo_id, photo), (clip_id, clip)):
        received = storage.source(str(upload_id))
        made.replace(received)  # whole, as an upload's last chunk leaves it
        await uploads.note_received(sessions, upload_id, received.stat().st_size)
    return True
