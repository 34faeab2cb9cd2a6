"""Candidate photos an organiser sends: re-encoded (media.photos, handed over by the assembly as app key
PHOTO_REENCODE) and stored under random names in the data folder.

The web process that takes votes is the one decoding them, so a process decodes one photo at a time, on one
thread (`reencode_in_turn`), whatever number arrive together."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from pathlib import Path

from gateway.core.audit import Actor
from gateway.core.contests import contests_admin
from gateway.core.media.uploads import PHOTO_MAX_BYTES
from gateway.core.media_storage import OWN_PHOTOS, PICTURE_SIZES, PictureSize
from gateway.db.engine import Sessions
from gateway.db.models import Candidate

MAX_BYTES = PHOTO_MAX_BYTES
NAME = re.compile(r"^[0-9a-f]{32}\.jpg$")
# A photo's sized copies beside it (PictureSize.name_of: "<name>-96.jpg"), served in its place while none is made.
SIZED_NAME = re.compile(r"^([0-9a-f]{32})-(\d{2,4})\.jpg$")
URL_PREFIX = OWN_PHOTOS


async def reencode_in_turn(decoder: Executor, reencode: Callable[[bytes], bytes], data: bytes) -> bytes:
    """`reencode` (app key PHOTO_REENCODE) on the process's one photo thread (app key PHOTO_DECODER): the
    event loop keeps serving votes meanwhile, photos sent together wait their turn, and a request given up
    mid-decode (the client gone, the upload's deadline) still holds the thread until its decode ends, so no
    second decode runs beside it. One thread also means one malloc arena, whose freed pages the next decode reuses."""
    return await asyncio.get_running_loop().run_in_executor(decoder, reencode, data)


async def sized_in_turn(decoder: Executor, sizer: Callable[[bytes], Mapping[PictureSize, bytes]],
                        jpeg: bytes) -> Mapping[PictureSize, bytes]:
    """The clean photo's sized copies (app key PHOTO_SIZER), on the same one thread as `reencode_in_turn`."""
    return await asyncio.get_running_loop().run_in_executor(decoder, sizer, jpeg)


def photo_folder(data_dir: Path) -> Path:
    return data_dir / "photos"


def store(data_dir: Path, jpeg: bytes, sizes: Mapping[PictureSize, bytes] | None = None) -> str:
    """Write the photo under a random name, its sized copies beside it; its public URL."""
    folder = photo_folder(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.jpg"
    for size, copy in (sizes or {}).items():
        (folder / size.name_of(name)).write_bytes(copy)
    (folder / name).write_bytes(jpeg)
    return URL_PREFIX + name


async def attach(sessions: Sessions, actor: Actor, candidate_id: int, data_dir: Path,
                 jpeg: bytes, sizes: Mapping[PictureSize, bytes] | None = None) -> Candidate:
    """Store the photo and make it the candidate's; a candidate that refuses it leaves no file behind."""
    url = store(data_dir, jpeg, sizes)
    try:
        return await contests_admin.set_candidate_photo(sessions, actor, candidate_id, url)
    except BaseException:
        discard(data_dir, url)
        raise


def discard(data_dir: Path, url: str) -> None:
    """Remove a photo just stored whose candidate then refused it."""
    name = url.removeprefix(URL_PREFIX)
    path = stored_path(data_dir, name)
    if path is not None:
        path.unlink(missing_ok=True)
        for size in PICTURE_SIZES:
            (path.parent / size.name_of(name)).unlink(missing_ok=True)


def original_name(name: str) -> str | None:
    """The photo a file name is of: itself, or the original of a sized copy's name; None for any other name."""
    sized = SIZED_NAME.match(name)
    if sized is not None and int(sized[2]) in {size.width for size in PICTURE_SIZES}:
        return f"{sized[1]}.jpg"
    return name if NAME.match(name) else None


def stored_path(data_dir: Path, name: str) -> Path | None:
    if not NAME.match(name):
        return None
    path = photo_folder(data_dir) / name
    return path if path.is_file() else None


def sized_path(data_dir: Path, name: str) -> Path | None:
    """A sized copy's file, if one was made (a photo stored before sizes has none)."""
    original = original_name(name)
    if original is None or original == name:
        return None
    path = photo_folder(data_dir) / name
    return path if path.is_file() else None
