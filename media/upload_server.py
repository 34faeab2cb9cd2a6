"""The media server (`gateway media`): receives candidates' uploads and serves what was made of them, in a
process of its own so a 50 MB clip never crosses a vote-taking web process.

Uploads speak tus 1.0 (https://tus.io/protocols/resumable-upload), core protocol and `creation`, at the URL the
grant names: POST declares the length, PATCH appends chunks at the offset HEAD reports, so a phone whose
3G link drops goes on from its last whole chunk. Every request carries the grant (a bearer JWT, checked here);
when the last byte lands the file becomes the upload's source and the service is told (`on_complete`: in
`gateway media`, the upload noted as received in the database, `served_media_app`), again and again while it
cannot be.

Files are served with aiohttp's FileResponse (HTTP Range: a phone seeks without fetching the whole clip), with
the type of what the service made and `nosniff`; nothing a browser uploaded is ever served as it came. The
service is asked at every request who may have a file (`gateway.core.media.uploads.access_to`, one statement; one
in flight per upload, `media.access_lookups`): a shown candidate's clip or photo goes to anyone (kept by shared
caches PUBLIC_SECONDS at most), a pending entry's only on a signed link (the candidate's and the organiser's view
of an entry), which no shared cache keeps, and a taken down one (a hidden candidate's, a rejected entry's, a
replaced one) to nobody, on no link, from the moment it was taken down. While the database does not answer, no
file is served: 503 with Retry-After within ACCESS_SECONDS."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.core.media.uploads import Access, access_to, note_received
from gateway.db.engine import Sessions, create_engine, session_factory
from media.access_lookups import ACCESS_SECONDS, RETRY_AFTER_SECONDS, AccessLookups, AccessUnknown
from media.local_storage import SERVED, SIZED_FROM, LocalStorage, read_grant, read_link, upload_name

log = logging.getLogger(__name__)
TUS_VERSION = "1.0.0"
MAX_CHUNK_BYTES = 8 * 1024 * 1024
CORS = {
    "Access-Control-Allow-Origin": "*",  # grants are bearer tokens, not cookies: any page may send one
    "Access-Control-Allow-Methods": "POST, HEAD, PATCH, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Upload-Length, Upload-Offset, Tus-Resumable",
    "Access-Control-Expose-Headers": "Upload-Offset, Upload-Length, Tus-Resumable, Location",
    "Access-Control-Max-Age": "600",
}
# What a phone or a proxy may keep of a public file before asking again: a withheld clip leaves their caches soon.
PUBLIC_SECONDS = 60
OnComplete = Callable[[str, int], Awaitable[None]]
AccessOf = Callable[[str], Awaitable[Access]]  # who may fetch an upload's files now, on which links
STORAGE = web.AppKey("storage", LocalStorage)
ON_COMPLETE: web.AppKey[OnComplete] = web.AppKey("on_complete")
ACCESS: web.AppKey[AccessOf] = web.AppKey("access")
LOCKS: web.AppKey[dict[str, asyncio.Lock]] = web.AppKey("locks")
ENGINE = web.AppKey("engine", AsyncEngine)  # `served_media_app`'s own, on the service's database
# Complete uploads the service has not been told of yet (id: length), and how often they are told again.
UNTOLD: web.AppKey[dict[str, int]] = web.AppKey("untold")
TELL_AGAIN_SECONDS = 5.0


def refusal(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status,
                             headers={**CORS, "Tus-Resumable": TUS_VERSION})


def tus(status: int = 204, **headers: str) -> web.Response:
    return web.Response(status=status, headers={**CORS, "Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store",
                                                **headers})


def granted(request: web.Request) -> tuple[str, int] | web.Response:
    """The upload id and its size limit, or the refusal of a request without a valid grant for it."""
    try:
        upload_id = upload_name(request.match_info["upload_id"])
    except ValueError:
        return refusal(404, "unknown_upload", "No upload at this address.")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    limit = read_grant(request.app[STORAGE].secret_key, token, upload_id) if scheme.lower() == "bearer" else None
    if limit is None:
        return refusal(401, "bad_grant", "This upload's grant is missing, expired or not for this upload.")
    return upload_id, limit


def length_file(part: Path) -> Path:
    return part.with_name(part.name + ".length")


async def options(request: web.Request) -> web.Response:
    return tus(204, **{"Tus-Version": TUS_VERSION, "Tus-Extension": "creation"})


async def create(request: web.Request) -> web.Response:
    found = granted(request)
    if isinstance(found, web.Response):
        return found
    upload_id, limit = found
    storage = request.app[STORAGE]
    try:
        length = int(request.headers.get("Upload-Length", ""))
    except ValueError:
        return refusal(400, "no_length", "Upload-Length: the file's size in bytes.")
    if length <= 0:  # a phone's placeholder of a file kept elsewhere, not the file: not "too large"
        return refusal(400, "empty_file", "The file is empty: choose another.")
    if length > limit:
        return refusal(413, "too_large", f"A file of this kind may be at most {limit // (1024 * 1024)} MB.")
    if storage.completed(upload_id):
        return refusal(410, "upload_complete", "This upload is complete; ask for a new grant to send another file.")
    part = storage.incoming(upload_id)
    part.parent.mkdir(parents=True, exist_ok=True)
    if part.exists() and length_file(part).read_text() != str(length):
        return refusal(409, "other_length", "This upload was started with another length.")
    length_file(part).write_text(str(length))
    part.touch()
    return tus(201, Location=str(request.url.with_query(None)), **{"Upload-Offset": str(part.stat().st_size)})


async def head(request: web.Request) -> web.Response:
    found = granted(request)
    if isinstance(found, web.Response):
        return found
    storage = request.app[STORAGE]
    upload_id = found[0]
    source, part = storage.source(upload_id), storage.incoming(upload_id)
    if source.exists():
        size = str(source.stat().st_size)
        return tus(200, **{"Upload-Offset": size, "Upload-Length": size})
    if not part.exists():
        return refusal(404, "unknown_upload", "This upload has not been started.")
    return tus(200, **{"Upload-Offset": str(part.stat().st_size), "Upload-Length": length_file(part).read_text()})


async def patch(request: web.Request) -> web.Response:
    found = granted(request)
    if isinstance(found, web.Response):
        return found
    upload_id = found[0]
    if request.content_type != "application/offset+octet-stream":
        return refusal(415, "bad_content_type", "Chunks are sent as application/offset+octet-stream.")
    lock = request.app[LOCKS].setdefault(upload_id, asyncio.Lock())
    async with lock:
        return await append(request, upload_id)


async def append(request: web.Request, upload_id: str) -> web.Response:
    storage = request.app[STORAGE]
    part = storage.incoming(upload_id)
    if storage.completed(upload_id):
        return refusal(410, "upload_complete", "This upload is complete; ask for a new grant to send another file.")
    if not part.exists():
        return refusal(404, "unknown_upload", "This upload has not been started.")
    length, offset = int(length_file(part).read_text()), part.stat().st_size
    if request.headers.get("Upload-Offset") != str(offset):
        return refusal(409, "wrong_offset", f"The upload is at byte {offset}; send from there.")
    room = min(length - offset, MAX_CHUNK_BYTES)
    with part.open("ab") as out:
        async for chunk in request.content.iter_chunked(64 * 1024):
            if len(chunk) > room:
                out.truncate(offset)  # nothing of a chunk past the declared length is kept
                return refusal(413, "past_length", "More bytes than the upload's length (or one chunk's 8 MB).")
            out.write(chunk)
            room -= len(chunk)
    offset = part.stat().st_size
    if offset == length:
        await finish(request.app, upload_id, length)
    return tus(204, **{"Upload-Offset": str(offset)})


async def finish(app: web.Application, upload_id: str, length: int) -> None:
    storage = app[STORAGE]
    part, source = storage.incoming(upload_id), storage.source(upload_id)
    source.parent.mkdir(parents=True, exist_ok=True)
    part.replace(source)
    length_file(part).unlink(missing_ok=True)
    app[LOCKS].pop(upload_id, None)
    await tell(app, upload_id, length)


async def tell(app: web.Application, upload_id: str, length: int) -> bool:
    """The service told of a complete upload; one it could not be told of (its database away: a fail-over, an
    outage) is told again until it is (`telling_again`). Only here is that known: a web process on another host
    that asks its own disk for the file finds nothing."""
    try:
        await app[ON_COMPLETE](upload_id, length)
    except Exception:
        if upload_id not in app[UNTOLD]:
            log.exception("upload %s complete but the service was not told: telling it again", upload_id)
        app[UNTOLD][upload_id] = length
        return False
    app[UNTOLD].pop(upload_id, None)
    return True


def telling_again(every: float) -> Callable[[web.Application], AsyncIterator[None]]:
    """The uploads the service was not told of, told again every `every` seconds while the server runs, those of an
    earlier run first."""
    async def untold(app: web.Application) -> AsyncIterator[None]:
        # What a server stopped during an outage had still to tell is on disk: every whole file not processed yet
        # is told again at the start (telling is idempotent: one told before changes nothing).
        app[UNTOLD].update(await asyncio.to_thread(app[STORAGE].whole_sources))

        async def loop() -> None:
            while True:
                await asyncio.sleep(every)
                for upload_id, length in list(app[UNTOLD].items()):
                    if not await tell(app, upload_id, length):
                        break  # still away: the rest wait for the next round

        task = asyncio.ensure_future(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return untold


async def serve_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    storage = request.app[STORAGE]
    try:
        folder = storage.made(request.match_info["upload_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    content_type = SERVED.get(name)
    path = folder / name
    if content_type is not None and not path.is_file() and name in SIZED_FROM:  # made before pictures had sizes
        path = folder / SIZED_FROM[name]
    if content_type is None or not path.is_file():
        raise web.HTTPNotFound()
    try:
        access = await request.app[ACCESS](folder.name)  # at every request: a takedown holds from its commit
    except AccessUnknown:  # never a file that may have been taken down (the lookup's failure is logged once)
        return web.json_response({"error": {"code": "media_unavailable", "message":
                                 "This file cannot be served just now: try again in a few seconds."}}, status=503,
                                 headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"})
    if access is Access.TAKEN_DOWN:
        raise web.HTTPNotFound(headers={"Cache-Control": "no-store"})
    if "sig" in request.query:
        held = read_link(storage.secret_key, f"{folder.name}/{name}", request.query.get("expires", ""),
                         request.query["sig"], storage.clock())
        if not held:
            return web.json_response({"error": {"code": "link_expired" if held is False else "bad_link", "message":
                                     "This link has expired or is not ours: reload the page for a new one."}},
                                     status=403, headers={"Cache-Control": "no-store"})
        cache = "private, no-cache"  # their own browser only, and it asks again: a takedown holds there too
    elif access is Access.PUBLIC:
        cache = f"public, max-age={PUBLIC_SECONDS}"
    else:
        raise web.HTTPNotFound(headers={"Cache-Control": "no-store"})
    return web.FileResponse(path, headers={
        "Content-Type": content_type, "X-Content-Type-Options": "nosniff", "Cache-Control": cache,
        "Access-Control-Allow-Origin": "*"})


async def signed_only(upload_id: str) -> Access:
    return Access.SIGNED


def media_app(storage: LocalStorage, on_complete: OnComplete, access: AccessOf = signed_only, *,
              tell_again_seconds: float = TELL_AGAIN_SECONDS) -> web.Application:
    app = web.Application(client_max_size=MAX_CHUNK_BYTES + 1024)
    app[STORAGE], app[ON_COMPLETE], app[LOCKS], app[ACCESS] = storage, on_complete, {}, access
    app[UNTOLD] = {}
    app.cleanup_ctx.append(telling_again(tell_again_seconds))
    app.router.add_route("OPTIONS", "/uploads/{upload_id}", options)
    app.router.add_post("/uploads/{upload_id}", create)
    app.router.add_route("HEAD", "/uploads/{upload_id}", head)
    app.router.add_patch("/uploads/{upload_id}", patch)
    app.router.add_get("/files/{upload_id}/{name}", serve_file)
    return app


def database_hooks(sessions: Sessions, access_seconds: float = ACCESS_SECONDS) -> tuple[OnComplete, AccessLookups]:
    """What the media server tells the service and asks of it, through the database: a finished upload noted as
    received (its entry's submission and its processing follow), and who may have an upload's files, asked at
    every request (one indexed statement, one in flight per upload, waited for `access_seconds` at most)."""
    async def received(upload_id: str, size: int) -> None:
        await note_received(sessions, uuid.UUID(upload_id), size)

    async def access(upload_id: str) -> Access:
        return await access_to(sessions, uuid.UUID(upload_id))

    return received, AccessLookups(access, access_seconds)


def served_media_app(storage: LocalStorage, database_url: str, *, access_seconds: float = ACCESS_SECONDS,
                     tell_again_seconds: float = TELL_AGAIN_SECONDS) -> web.Application:
    """The media server as `gateway media` runs it: its hooks on the service's database (`database_hooks`), on
    an engine whose connections and statements give up when a request stops waiting for them, closed with the
    app."""
    engine = create_engine(database_url, pool_size=2, statement_timeout_seconds=access_seconds,
                           connect_timeout_seconds=access_seconds)
    received, access = database_hooks(session_factory(engine), access_seconds)
    app = media_app(storage, received, access, tell_again_seconds=tell_again_seconds)
    app[ENGINE] = engine

    async def engine_ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        await access.close()
        await engine.dispose()

    app.cleanup_ctx.insert(0, engine_ctx)  # closed last: after the telling again has stopped
    return app
