"""Candidate photos an organiser sends: re-encoded (media.photos, handed over by the assembly as app key
PHOTO_REENCODE) and stored under random names in the data folder.

The web process that takes votes is the one decoding them, so a process decodes one photo at a time, on one
thread (`reencode_in_turn`), whatever number arrive together."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path

from gateway.core.audit import Actor
from gateway.core.contests import contests_admin
from gateway.core.media.uploads import PHOTO_MAX_BYTES
from gateway.db.engine import Sessions
from gateway.db.models import Candidate

MAX_BYTES = PHOTO_MAX_BYTES
NAME = re.compile(r"^[0-9a-f]{32}\.jpg$")
URL_PREFIX = "/photos/"


async def reencode_in_turn(decoder: Executor, reencode: Callable[[bytes], bytes], data: bytes) -> bytes:
    """`reencode` (app key PHOTO_REENCODE) on the process's one photo thread (app key PHOTO_DECODER): the
    event loop keeps serving votes meanwhile, photos sent together wait their turn, and a request given up
    mid-decode (the client gone, the upload's deadline) still holds the thread until its decode ends, so no
    second decode runs beside it. One thread also means one malloc arena, whose freed pages the next decode reuses."""
    return await asyncio.get_running_loop().run_in_executor(decoder, reencode, data)


def photo_folder(data_dir: Path) -> Path:
    return data_dir / "photos"


def store(data_dir: Path, jpeg: bytes) -> str:
    """Write the photo under a random name; its public URL."""
    folder = photo_folder(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.jpg"
    (folder / name).write_bytes(jpeg)
    return URL_PREFIX + name


async def attach(sessions: Sessions, actor: Actor, candidate_id: int, data_dir: Path,
                 jpeg: bytes) -> Candidate:
    """Store the photo and make it the candidate's; a candidate that refuses it leaves no file behind."""
    url = store(data_dir, jpeg)
    try:
        return await contests_admin.set_candidate_photo(sessions, actor, candidate_id, url)
    except BaseException:
        discard(data_dir, url)
        raise


def discard(data_dir: Path, url: str) -> None:
    """Remove a photo just stored whose candidate then refused it."""
    path = stored_path(data_dir, url.removeprefix(URL_PREFIX))
    if path is not None:
        path.unlink(missing_ok=True)


def stored_path(data_dir: Path, name: str) -> Path | None:
    if not NAME.match(name):
        return None
    path = photo_folder(data_dir) / name
    return path if path.is_file() else None
