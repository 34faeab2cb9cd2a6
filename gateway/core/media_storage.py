"""Where candidates' photos and clips are kept: a provider behind one small interface, as payments are.

The browser sends a file straight to the storage with a grant the service signs (the vote-taking web processes
never carry its bytes); the service learns the file arrived from the storage (its notification, or by asking
it), never from the browser's word. A storage that transcodes by itself (Cloudinary) says so; for the others a
job probes and transcodes the file (media.processing) and puts what it made back.

Keys are the service's own (`<upload id>/source`, `<upload id>/360p.mp4`, …): never a name a browser chose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from gateway.db.engine import Sessions


@dataclass(frozen=True)
class UploadGrant:
    """What the browser needs to send one file: where, how (`protocol`), and the signed fields to send along."""

    upload_id: str
    protocol: str  # "tus" (resumable, chunks of `chunk_bytes`), "cloudinary" (its chunked signed upload)
    url: str
    max_bytes: int
    expires_at: datetime
    fields: Mapping[str, str] = field(default_factory=dict)
    chunk_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class Received:
    """A whole file the storage holds, as the storage tells it."""

    size_bytes: int


@dataclass(frozen=True)
class MadeFiles:
    """What a storage that transcodes made of a clip (files keyed as media.processing names them)."""

    files: Mapping[str, Mapping[str, str]]
    facts: Mapping[str, object]


SOURCE = "source"
# A signed link (the candidate's and the organiser's view of an entry) lasts half an hour, rounded up to the next
# five minutes so a page reloaded meanwhile names the same URL (a browser's own cache keeps its bytes).
SIGNED_LINK_SECONDS = 1800
SIGNED_LINK_STEP = 300


def link_expiry(now: float) -> int:
    """When a signed link made at `now` (Unix seconds) stops working."""
    return -(-int(now + SIGNED_LINK_SECONDS) // SIGNED_LINK_STEP) * SIGNED_LINK_STEP


@dataclass(frozen=True)
class PictureSize:
    """A size pages show a picture at, in device pixels: `width` wide, cropped to a square (a list's tile) or not
    (a candidate's photo, as tall as it is)."""

    width: int
    square: bool

    def name_of(self, name: str) -> str:
        """The sized file's name beside the original's: "photo.jpg" -> "photo-192.jpg"."""
        stem, dot, extension = name.rpartition(".")
        return f"{stem}-{self.width}{dot}{extension}"


# The pages show a picture as a 96 x 96 tile (lists, a candidate's photo beside their clip) or a photo 320 wide (a
# candidate's page without a clip), each at 1x and 2x: a phone fetches some 5 KB where the 800 px photo weighs 55.
TILE_SIZES = (PictureSize(96, True), PictureSize(192, True))
PHOTO_SIZES = (PictureSize(320, False), PictureSize(640, False))
PICTURE_SIZES = (*TILE_SIZES, *PHOTO_SIZES)
SIZED = ("photo.jpg", "poster.jpg")  # the made files that are also made at PICTURE_SIZES
OWN_PHOTOS = "/photos/"  # photos organisers sent before they went through the storage: the site serves them


def sized_url(storage: MediaStorage, url: str, size: PictureSize) -> str | None:
    """A candidate's photo or a clip's poster (its public URL) at `size`: where its storage, or the site for an
    organiser's photo, serves it (the original where no sized copy was made, as for a photo older than sizes)."""
    if url.startswith(OWN_PHOTOS):
        return OWN_PHOTOS + size.name_of(url.removeprefix(OWN_PHOTOS))
    return storage.sized_url(url, size)


def source_key(upload_id: str) -> str:
    return f"{upload_id}/{SOURCE}"


def file_key(upload_id: str, name: str) -> str:
    return f"{upload_id}/{name}"


class MediaStorage(Protocol):
    name: str
    transcodes: bool  # it makes the renditions itself; no ffmpeg job needed
    # Where browsers send uploads and fetch files (scheme://host[:port]): the pages' Content-Security-Policy
    # allows exactly these.
    upload_origin: str
    files_origin: str
    # It sizes pictures itself from their URL (Cloudinary's transformations): our worker stores no sized copies.
    sizes_by_url: bool

    def grant_upload(self, upload_id: str, kind: str, max_bytes: int, expires_at: datetime) -> UploadGrant:
        """A short-lived signed grant to upload exactly one file under `upload_id`, of at most `max_bytes`."""
        ...

    async def received(self, upload_id: str) -> Received | None:
        """The whole uploaded source, if the storage has it (asked of the storage, not of the browser)."""
        ...

    async def fetch_source(self, upload_id: str, into: Path) -> Path:
        """The uploaded source as a local file under `into` (a job's work folder), to probe and transcode."""
        ...

    async def put(self, key: str, path: Path, content_type: str) -> None:
        """Keep a file the service made (a rendition, a poster), served as `content_type`."""
        ...

    def public_url(self, key: str) -> str:
        """Where viewers fetch a kept file: it works only while they may have it (its candidate is shown)."""
        ...

    def sized_url(self, url: str, size: PictureSize) -> str | None:
        """A photo's or a poster's public URL (`public_url` of a SIZED file) at `size`; None for another URL."""
        ...

    def signed_url(self, key: str) -> str:
        """A short-lived link to a kept file that works whether or not viewers may have it, but never once it is
        taken down (`gateway.core.media.uploads.access_to`): what the candidate and the organiser are shown of an
        entry, never a public page."""
        ...

    async def delete_upload(self, upload_id: str) -> None:
        """Remove the source and every file made from it (an orphan, a replaced clip)."""
        ...

    async def processed(self, upload_id: str) -> None:
        """Our worker made the upload's files: the storage keeps its original, or lets it go (where we keep the
        files ourselves only what was made of it is served)."""
        ...

    async def settle_late(self, sessions: Sessions, upload_id: str) -> bool:
        """An upload received but still not prepared long after (its notice lost, a worker killed): a storage
        that prepares files itself notes what it says of it and answers True; False leaves it for our worker."""
        ...

    async def withhold(self, upload_id: str, hidden: bool, taken_down: bool = False) -> None:
        """Keep an upload's files from viewers (anything but a shown candidate's clip or photo), or give them
        back. A link a viewer kept must stop working too, so hiding the pages that show it is not enough.
        `taken_down` (a hidden candidate's, a rejected entry's): no link at all works, signed ones included."""
        ...
