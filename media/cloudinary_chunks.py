"""The stand-in's reading of an upload request: its form (the signed parameters and the file, the file streamed
to disk, never held in memory) and, for a chunked upload, where the chunk goes, as Cloudinary's guidelines for
chunked uploads say (https://support.cloudinary.com/hc/en-us/articles/208263735): the same X-Unique-Upload-Id on
every chunk, `Content-Range: bytes <first>-<last>/<total>`, every chunk but the last at least 5 MB, and the last
sent once the others are answered; it is answered with the resource."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiohttp import BodyPartReader, web

from media.cloudinary_store import MAX_UPLOAD_BYTES, Store

RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


class ChunkRefused(ValueError):
    """A request Cloudinary would answer with a 400 (the message says why)."""


@dataclass(frozen=True)
class Chunk:
    unique_id: str
    first: int
    last: int
    total: int

    @classmethod
    def of(cls, unique_id: str | None, content_range: str | None, min_bytes: int) -> Chunk | None:
        """The chunk the headers name (None: a whole upload in one request)."""
        if not unique_id and not content_range:
            return None
        found = RANGE.match(content_range or "")
        if not unique_id or found is None:
            raise ChunkRefused("Chunked upload needs X-Unique-Upload-Id and Content-Range: bytes first-last/total")
        first, last, total = (int(number) for number in found.groups())
        if not first <= last < total or total > MAX_UPLOAD_BYTES:
            raise ChunkRefused(f"Invalid Content-Range {content_range}")
        if last + 1 < total and last + 1 - first < min_bytes:
            raise ChunkRefused(f"Chunk too small: every chunk but the last must be at least {min_bytes} bytes")
        return cls(unique_id, first, last, total)

    @property
    def length(self) -> int:
        return self.last + 1 - self.first


async def read_form(request: web.Request, folder: Path) -> tuple[dict[str, str], Path]:
    """The form's fields and its file (written under `folder`, at most MAX_UPLOAD_BYTES)."""
    reader = await request.multipart()
    folder.mkdir(parents=True, exist_ok=True)
    body = folder / uuid.uuid4().hex
    params: dict[str, str] = {}
    body.touch()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        if part.name != "file":
            params[part.name] = (await part.read(decode=True)).decode()
            continue
        written = 0
        with body.open("wb") as out:
            while chunk := await part.read_chunk(256 * 1024):
                written += len(chunk)
                if written > MAX_UPLOAD_BYTES:
                    body.unlink(missing_ok=True)
                    raise ChunkRefused(f"File size too large. Maximum is {MAX_UPLOAD_BYTES}.")
                out.write(chunk)
    return params, body


def add_chunk(store: Store, chunk: Chunk, public_id: str, body: Path) -> Path | None:
    """Put the chunk's bytes at their place; the whole file once the last chunk lands on all the others."""
    if body.stat().st_size != chunk.length:
        raise ChunkRefused(f"Chunk holds {body.stat().st_size} bytes, Content-Range says {chunk.length}")
    parts = store.chunks(hashlib.sha256(f"{chunk.unique_id}\0{public_id}".encode()).hexdigest())
    ranges_file = parts.with_name(parts.name + ".ranges")
    parts.parent.mkdir(parents=True, exist_ok=True)
    ranges: list[list[int]] = json.loads(ranges_file.read_text()) if ranges_file.is_file() else []
    if ranges and any(total != chunk.total for _, _, total in ranges):
        raise ChunkRefused("Content-Range total differs from the upload's earlier chunks")
    with parts.open("r+b" if parts.exists() else "wb") as out:
        out.seek(chunk.first)
        out.write(body.read_bytes())
    ranges.append([chunk.first, chunk.last, chunk.total])
    ranges_file.write_text(json.dumps(ranges))
    if chunk.last + 1 < chunk.total:
        return None
    if covered(ranges) < chunk.total:
        raise ChunkRefused("Final chunk arrived before the others: upload the last chunk last")
    ranges_file.unlink()
    whole = body.with_name(body.name + ".whole")
    parts.replace(whole)
    return whole


def covered(ranges: list[list[int]]) -> int:
    """How many of the file's bytes the chunks hold (a chunk sent twice counts once)."""
    held: set[tuple[int, int]] = {(first, last) for first, last, _ in ranges}
    count, reach = 0, -1
    for first, last in sorted(held):
        if last > reach:
            count += last - max(first, reach + 1) + 1
            reach = last
    return count
