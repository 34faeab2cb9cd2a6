"""Local storage, the embedded default: files in a folder under GATEWAY_DATA_DIR, received and served by the
media server (media.upload_server), a process of its own, never by the vote-taking web processes.

    <root>/incoming/<upload id>   the bytes of an upload under way (tus: resumable, in chunks)
    <root>/sources/<upload id>    a whole upload, until its processing is done
    <root>/files/<upload id>/…    what the service made of it (renditions, poster, photo), served to viewers

A grant is a JWT naming the upload, its size limit and its expiry, signed with a key derived from SECRET_KEY:
the media server checks it on every request, so it needs no database to say who may write where. A signed link
to a made file (`?expires=…&sig=…`, an HMAC with another key derived from SECRET_KEY) is read the same way, and
holds only while the file is not taken down (a hidden candidate's, a rejected entry's); a file asked for without
one is served only while the service says viewers may have it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import jwt

from gateway.core.media_storage import PICTURE_SIZES, SIZED, PictureSize, Received, UploadGrant, link_expiry
from gateway.db.engine import Sessions

ALGORITHM = "HS256"
AUDIENCE = "ballot-upload"
CHUNK_BYTES = 1024 * 1024  # a chunk lost on a dropped 3G link costs a few seconds, not the whole clip
# What the service makes, and how it is served: a name outside this table is never served.
SERVED = {"360p.mp4": "video/mp4", "720p.mp4": "video/mp4", "preview.mp4": "video/mp4",
          "poster.jpg": "image/jpeg", "thumb.jpg": "image/jpeg", "photo.jpg": "image/jpeg"}
# A photo's and a poster's sized copies, by name, each with what is served in its place where none was made (a file
# older than sizes): the original, or for a poster's tile its thumbnail (192 px, which every clip has).
SIZED_FROM = {size.name_of(name): "thumb.jpg" if name == "poster.jpg" and size.square else name
              for name in SIZED for size in PICTURE_SIZES}
SERVED.update({sized: "image/jpeg" for sized in SIZED_FROM})


def grant_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"ballot-upload-grant-v1", hashlib.sha256).digest()


def read_grant(secret_key: str, token: str, upload_id: str) -> int | None:
    """The size limit a grant gives for `upload_id`; None for a forged, expired or another upload's grant."""
    try:
        claims = jwt.decode(token, grant_key(secret_key), algorithms=[ALGORITHM], audience=AUDIENCE,
                            options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        return None
    if claims.get("sub") != upload_id or not isinstance(claims.get("max"), int):
        return None
    return int(claims["max"])


def link_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"ballot-media-link-v1", hashlib.sha256).digest()


def link_signature(secret_key: str, key: str, expires: int) -> str:
    return hmac.new(link_key(secret_key), f"{key}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def read_link(secret_key: str, key: str, expires: str, signature: str, now: float) -> bool | None:
    """A signed link's word on `key`: True while it holds, False once expired, None when forged."""
    if not expires.isdigit() or not hmac.compare_digest(link_signature(secret_key, key, int(expires)), signature):
        return None
    return now < int(expires)


def upload_name(upload_id: str) -> str:
    """The id as a file name: a UUID, or ValueError (a path never comes from a request as it is)."""
    return str(uuid.UUID(upload_id))


class LocalStorage:
    name = "local"
    transcodes = False
    sizes_by_url = False

    def __init__(self, root: Path, upload_url: str, files_url: str, secret_key: str, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self.clock = clock
        self.upload_url = upload_url.rstrip("/")
        self.files_url = files_url.rstrip("/")
        self.secret_key = secret_key
        self.upload_origin = origin(upload_url)
        self.files_origin = origin(files_url)

    def incoming(self, upload_id: str) -> Path:
        return self.root / "incoming" / upload_name(upload_id)

    def source(self, upload_id: str) -> Path:
        return self.root / "sources" / upload_name(upload_id)

    def made(self, upload_id: str) -> Path:
        return self.root / "files" / upload_name(upload_id)

    def grant_upload(self, upload_id: str, kind: str, max_bytes: int, expires_at: datetime) -> UploadGrant:
        claims = {"sub": upload_id, "aud": AUDIENCE, "max": max_bytes, "kind": kind, "exp": expires_at}
        token = jwt.encode(claims, grant_key(self.secret_key), algorithm=ALGORITHM)
        return UploadGrant(upload_id, "tus", f"{self.upload_url}/uploads/{upload_id}", max_bytes, expires_at,
                           {"authorization": f"Bearer {token}"}, CHUNK_BYTES)

    async def received(self, upload_id: str) -> Received | None:
        source = self.source(upload_id)
        return Received(source.stat().st_size) if source.is_file() else None

    async def fetch_source(self, upload_id: str, into: Path) -> Path:
        source = self.source(upload_id)
        if not source.is_file():
            raise FileNotFoundError(f"upload {upload_id} has no source")
        return source  # on this machine already: read where it lies

    async def put(self, key: str, path: Path, content_type: str) -> None:
        upload_id, _, name = key.partition("/")
        if SERVED.get(name) != content_type:
            raise ValueError(f"{name} is not served as {content_type}")
        target = self.made(upload_id) / name
        await asyncio.to_thread(_copy, path, target)

    def public_url(self, key: str) -> str:
        return f"{self.files_url}/files/{key}"

    def sized_url(self, url: str, size: PictureSize) -> str | None:
        folder, _, name = url.rpartition("/")
        if not url.startswith(f"{self.files_url}/files/") or name not in SIZED:
            return None
        return f"{folder}/{size.name_of(name)}"

    def signed_url(self, key: str) -> str:
        expires = link_expiry(self.clock())
        return f"{self.public_url(key)}?expires={expires}&sig={link_signature(self.secret_key, key, expires)}"

    async def delete_upload(self, upload_id: str) -> None:
        """Its files removed. Raises where the storage's folder is not (a process on another host, or in another
        container, than the media server's): nothing could be removed, and the upload must not be forgotten."""
        if not (self.root / "sources").is_dir() and not (self.root / "files").is_dir():
            raise FileNotFoundError(f"the media storage's folder {self.root} is not on this host")
        await asyncio.to_thread(_remove, [self.incoming(upload_id), self.source(upload_id), self.made(upload_id),
                                          self.finished(upload_id)])

    async def settle_late(self, sessions: Sessions, upload_id: str) -> bool:
        return False  # our worker prepares every file kept here

    async def withhold(self, upload_id: str, hidden: bool, taken_down: bool = False) -> None:
        """Nothing to do: the media server asks the database who may have a file at every request, signed links
        included (media.upload_server)."""

    def whole_sources(self) -> dict[str, int]:
        """Every upload whose whole file is here and not processed yet (its source kept), with its size."""
        folder = self.root / "sources"
        found: dict[str, int] = {}
        for path in folder.iterdir() if folder.is_dir() else ():
            try:
                found[upload_name(path.name)] = path.stat().st_size
            except (ValueError, FileNotFoundError):  # a mark (`.done`), or processed meanwhile
                continue
        return found

    def finished(self, upload_id: str) -> Path:
        """The mark of an upload whose source was taken: its grant can never write another file."""
        return self.root / "sources" / f"{upload_name(upload_id)}.done"

    def completed(self, upload_id: str) -> bool:
        return self.source(upload_id).exists() or self.finished(upload_id).exists()

    async def processed(self, upload_id: str) -> None:
        """The original is not kept: only what was made of it is served."""
        def drop() -> None:
            self.finished(upload_id).touch()
            _remove([self.source(upload_id)])
        await asyncio.to_thread(drop)


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _copy(path: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(path, partial)
    partial.replace(target)  # a viewer never gets half a file


def _remove(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
