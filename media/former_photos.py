"""The photos organisers sent before photos went through the media storage, moved into it from the data folder of
the host that took them (gateway.core.entries.former_photos): each cleaned again and put in the storage as any photo
is (media.upload_jobs.store_photo: with its small copies, or as the source Cloudinary sizes), then its candidate's.

The media sweep's files' part moves them, a bounded number a pass (media.sweep.files_sweep, on the `media` queue), so
the decoding runs in a media worker, never in one that relays votes. A folder is seen only by its own host's media
workers, and a files' sweep is taken by whichever media worker is free: with several hosts, each host's share moves
on the first one of its media workers takes (within minutes to an hour, as the sweeps fall among the hosts). A photo
on a host with no media worker stays as it was, served by that host: with the local storage on several machines,
only the media machine has media workers."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gateway.core.entries import former_photos
from gateway.core.media_storage import MediaStorage
from gateway.db.engine import Sessions
from media.photos import NotAnImage, PhotoTooLarge, reencode
from media.upload_jobs import store_photo

log = logging.getLogger(__name__)

# Moved a pass at most (each re-encoded, with its small copies: a tenth of a second or so): the rest on the next.
PER_PASS = 100


@dataclass(frozen=True)
class Moved:
    """What one move did: photos moved, those this host does not hold, those whose file is no photo."""

    moved: int = 0
    elsewhere: int = 0
    broken: int = 0

    def __str__(self) -> str:
        return f"former photos: {self.moved} moved, {self.elsewhere} on other hosts, {self.broken} broken"


async def move_former_photos(sessions: Sessions, storage: MediaStorage, data_dir: Path, now: datetime,
                             limit: int = PER_PASS) -> Moved:
    moved = elsewhere = broken = 0
    folder = former_photos.folder_of(data_dir)
    for photo in await former_photos.former_photos(sessions):
        if moved >= limit:
            break
        path = folder / photo.name if photo.name else None
        if path is None or not path.is_file():
            elsewhere += 1
            continue
        try:  # cleaned again: a file in a folder is trusted no more than a file sent
            jpeg = await asyncio.to_thread(reencode, path.read_bytes())
        except (NotAnImage, PhotoTooLarge):  # still served from this host, as before
            broken += 1
            continue
        upload_id = await former_photos.make_room(sessions, storage, photo, now)
        with tempfile.TemporaryDirectory(prefix="ballot-former-photo-") as work:
            facts, files = await store_photo(storage, str(upload_id), jpeg, Path(work))
        moved += await former_photos.adopt(sessions, storage, photo, upload_id, facts, files, now)
    if broken:
        log.warning("%d former photos in %s are not photos any more: they stay where they are", broken, folder)
    return Moved(moved, elsewhere, broken)
