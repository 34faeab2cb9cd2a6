"""The pages' CSS and scripts, read, hashed and gzipped once when the app starts: a page names each by its content
(`/static/ballot.3f2a9c81d0.css`), which a phone keeps for a year and never asks about again; a new release names
new files. The plain name (`/static/ballot.css`, as an older page or a bookmark has it) still answers, revalidated
each time. No brotli: no library for it is among the dependencies, and gzip already takes CSS and JS to a quarter."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from aiohttp import web

FOREVER = "public, max-age=31536000, immutable"
REVALIDATE = "public, no-cache"  # an unhashed name may name new content tomorrow: asked again, a 304 if unchanged
HASH_CHARS = 10
TYPES = {".css": "text/css", ".js": "text/javascript"}


@dataclass(frozen=True)
class StaticFile:
    name: str  # as it lies in static/: "ballot.css"
    hashed_name: str  # "ballot.3f2a9c81d0.css"
    body: bytes
    gzipped: bytes
    content_type: str

    @property
    def etag(self) -> str:
        return f'"{self.hashed_name}"'


def read_file(path: Path) -> StaticFile:
    body = path.read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:HASH_CHARS]
    stem, dot, suffix = path.name.rpartition(".")
    content_type = TYPES.get(f".{suffix}") or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return StaticFile(path.name, f"{stem}.{digest}{dot}{suffix}", body, gzipped(body), content_type)


# The same bytes are gzipped once a process, however many apps it builds: level 9 costs milliseconds a file.
@lru_cache(maxsize=64)
def gzipped(body: bytes) -> bytes:
    # mtime=0: the same file gzips to the same bytes in every process behind the balancer.
    return gzip.compress(body, 9, mtime=0)


class StaticFiles(Mapping[str, str]):
    """Every file of a folder by its plain and its hashed name; as a mapping, a file's URL by its plain name
    (`static['ballot.css']` in a template, as `static_url('ballot.css')` is)."""

    def __init__(self, folder: Path, prefix: str = "/static/") -> None:
        self.prefix = prefix
        files = [read_file(path) for path in sorted(folder.iterdir()) if path.is_file()]
        self.by_name = {f.name: f for f in files}
        self.by_hashed_name = {f.hashed_name: f for f in files}

    def url(self, name: str) -> str:
        """The content-hashed URL of a static file (KeyError for a name that is none: a template's typo fails)."""
        return self.prefix + self.by_name[name].hashed_name

    def __getitem__(self, name: str) -> str:
        return self.url(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.by_name)

    def __len__(self) -> int:
        return len(self.by_name)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        hashed = self.by_hashed_name.get(name)
        found = hashed or self.by_name.get(name)
        if found is None:
            raise web.HTTPNotFound()
        headers = {"Cache-Control": FOREVER if hashed else REVALIDATE, "ETag": found.etag,
                   "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"}
        if found.etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        body = found.body
        if "gzip" in request.headers.get("Accept-Encoding", "").lower():
            body, headers["Content-Encoding"] = found.gzipped, "gzip"
        return web.Response(body=body, content_type=found.content_type, charset="utf-8", headers=headers)


def add_static(app: web.Application, folder: Path, prefix: str = "/static/") -> StaticFiles:
    files = StaticFiles(folder, prefix)
    app.router.add_get(prefix + "{name}", files.serve, name="static")
    return files
