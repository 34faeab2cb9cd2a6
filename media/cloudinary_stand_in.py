"""A local stand-in for the part of Cloudinary the service uses (`python -m media.cloudinary_stand_in --host
127.0.0.1 --port 8094 --data-dir var/cloudinary`), so development and the tests run the Cloudinary provider
without an account or the network:

- POST /v1_1/<cloud>/<video|image>/upload: a signed upload (the development account's secret, CLOUDINARY_URL
  when set), whole or in chunks (X-Unique-Upload-Id + Content-Range, at least 5 MB but the last); the last chunk
  is answered with the resource; bad or stale signatures answered as Cloudinary does (`{"error": {"message"}}`).
- the eager transformations, made for real (media.processing) one at a time in a thread, then the upload and
  eager notifications POSTed to the notification URLs, signed as Cloudinary signs them;
- the Admin API's GET /resources/<type>/upload/<public id>, DELETE /resources/<type>/upload?prefix=… and
  POST …/update_access_mode; the Upload API's signed `rename` (what was derived under the former name let go)
  and `explicit` with `eager` (made again);
- delivery, GET /<cloud>/<type>/upload/[s--<signature>--/]<transformation>/<public id>.<ext>: Range, the made
  file's own type, nosniff; a resource uploaded or set `access_mode: authenticated` only on a signed URL.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from media.cloudinary_api import (
    FILES,
    PUBLIC_ID,
    Made,
    api_sign,
    delivery_signature,
    made_for,
    notification_signature,
    response_signature,
    string_to_sign,
)
from media.cloudinary_chunks import Chunk, ChunkRefused, add_chunk, read_form
from media.cloudinary_store import Store, Unusable, describe, make_eager, size_of
from media.settings import CloudinaryAccount, CloudinarySettings

log = logging.getLogger(__name__)
STALE_SECONDS = 3600
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, Content-Range, X-Unique-Upload-Id, X-Requested-With",
        "Access-Control-Max-Age": "600"}
ACCOUNT = web.AppKey("account", CloudinaryAccount)
STORE = web.AppKey("store", Store)
SETTINGS: web.AppKey[dict[str, Any]] = web.AppKey("settings")
TASKS: web.AppKey[set[asyncio.Task[None]]] = web.AppKey("tasks")
EAGER_TURN = web.AppKey("eager_turn", asyncio.Lock)
CLIENT = web.AppKey("client", ClientSession)


def error(status: int, message: str) -> web.Response:
    """Cloudinary's error shape."""
    return web.json_response({"error": {"message": message}}, status=status, headers=CORS)


def signature_refusal(app: web.Application, params: dict[str, str]) -> web.Response | None:
    """Cloudinary's answer to a request it would not take: unknown key, bad signature (401), stale (400)."""
    account = app[ACCOUNT]
    if params.get("api_key") != account.api_key:
        return error(401, f"Unknown API key {params.get('api_key', '')}")
    expected = api_sign(params, account.api_secret)
    if not hmac.compare_digest(expected, params.get("signature", "")):
        return error(401, f"Invalid Signature {params.get('signature', '')}. String to sign - "
                          f"'{string_to_sign(params)}'.")
    try:
        sent_at = int(params.get("timestamp", ""))
    except ValueError:
        return error(400, "Missing required parameter - timestamp")
    if sent_at < app[SETTINGS]["clock"]() - STALE_SECONDS:
        reported = datetime.fromtimestamp(sent_at, UTC).strftime("%Y-%m-%d %H:%M:%S +0000")
        return error(400, f"Stale request - reported time is {reported} which is more than 1 hour ago")
    return None


async def upload(request: web.Request) -> web.Response:
    resource_type = request.match_info["resource_type"]
    if request.match_info["cloud"] != request.app[ACCOUNT].cloud_name or resource_type not in FILES:
        return error(404, "Resource not found")
    store = request.app[STORE]
    try:
        chunk = Chunk.of(request.headers.get("X-Unique-Upload-Id"), request.headers.get("Content-Range"),
                         request.app[SETTINGS]["min_chunk_bytes"])
        params, body = await read_form(request, store.root / "incoming")
    except ChunkRefused as exc:
        return error(400, str(exc))
    try:
        if (refused := signature_refusal(request.app, params)) is not None:
            return refused
        public_id = params.get("public_id") or uuid.uuid4().hex
        if not PUBLIC_ID.match(public_id):
            return error(400, f"Invalid public_id {public_id}")
        if store.resource(resource_type, public_id) is not None and params.get("overwrite") == "false":
            return error(400, f"Resource already exists - {public_id}")
        whole = add_chunk(store, chunk, public_id, body) if chunk else body
        if whole is None:
            return web.json_response({"done": False}, headers=CORS)
        return await finish(request, resource_type, public_id, params, whole)
    except ChunkRefused as exc:
        return error(400, str(exc))
    finally:
        body.unlink(missing_ok=True)


async def finish(request: web.Request, resource_type: str, public_id: str, params: dict[str, str],
                 whole: Path) -> web.Response:
    """The whole file: described, checked against allowed_formats, kept; its notifications and eager queued."""
    store = request.app[STORE]
    try:
        facts = await asyncio.to_thread(describe, whole, resource_type, request.app[SETTINGS]["lowly"])
    except Unusable as exc:
        whole.unlink(missing_ok=True)
        return error(400, str(exc))
    allowed = [name for name in params.get("allowed_formats", "").split(",") if name]
    if allowed and facts["format"] not in allowed:
        whole.unlink(missing_ok=True)
        return error(400, f"{resource_type.capitalize()} format {facts['format']} not allowed")
    target = store.source(resource_type, public_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    whole.replace(target)
    version = int(request.app[SETTINGS]["clock"]())
    origin = str(request.url.origin())
    resource = {**facts, "asset_id": uuid.uuid4().hex, "public_id": public_id, "version": version,
                "signature": response_signature(public_id, version, request.app[ACCOUNT].api_secret),
                "resource_type": resource_type, "type": "upload",
                "access_mode": "authenticated" if params.get("access_mode") == "authenticated" else "public",
                "created_at": datetime.fromtimestamp(version, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "secure_url": f"{origin}/{request.app[ACCOUNT].cloud_name}/{resource_type}/upload/v{version}/"
                              f"{public_id}.{facts['format']}", "derived": []}
    resource["url"] = resource["secure_url"]
    store.keep(resource)
    background(request.app, after_upload(request.app, resource, params, origin))
    return web.json_response(resource, headers=CORS)


def background(app: web.Application, work: Any) -> None:
    task: asyncio.Task[None] = asyncio.ensure_future(work)
    app[TASKS].add(task)
    task.add_done_callback(app[TASKS].discard)


async def after_upload(app: web.Application, resource: dict[str, Any], params: dict[str, str], origin: str) -> None:
    """The upload notification, then the eager files (one clip at a time: ffmpeg takes a core), then theirs."""
    if params.get("notification_url"):
        await notify(app, params["notification_url"], {**resource, "notification_type": "upload"})
    eager_url = params.get("eager_notification_url") or params.get("notification_url")
    if params.get("eager"):
        await make_derived(app, str(resource["resource_type"]), str(resource["public_id"]), eager_url, origin)


async def make_derived(app: web.Application, resource_type: str, public_id: str, eager_url: str | None,
                       origin: str) -> None:
    """The service's eager files of a resource, made one resource at a time, then the eager notification."""
    async with app[EAGER_TURN]:
        made = await asyncio.to_thread(make_eager, app[STORE], resource_type, public_id, app[SETTINGS]["lowly"])
        entries = [await asyncio.to_thread(eager_entry, app, resource_type, public_id, item, origin)
                   for item in made]
    kept = app[STORE].resource(resource_type, public_id)
    if kept is None:  # deleted meanwhile
        return
    app[STORE].keep({**kept, "derived": entries})
    if eager_url:
        await notify(app, eager_url, {"notification_type": "eager", "eager": entries, "public_id": public_id,
                                      "resource_type": resource_type, "batch_id": uuid.uuid4().hex})


def eager_entry(app: web.Application, resource_type: str, public_id: str, made: Made, origin: str) -> dict[str, Any]:
    path = app[STORE].derived(resource_type, public_id, made)
    width, height = size_of(path, made, app[SETTINGS]["lowly"])
    url = (f"{origin}/{app[ACCOUNT].cloud_name}/{resource_type}/upload/{made.transformation}/"
           f"{public_id}.{made.extension}")
    return {"transformation": made.transformation, "format": made.extension, "width": width, "height": height,
            "bytes": path.stat().st_size, "url": url, "secure_url": url}


async def notify(app: web.Application, url: str, payload: dict[str, Any]) -> None:
    """POST a notification signed as Cloudinary signs them (X-Cld-Timestamp, X-Cld-Signature)."""
    body = json.dumps(payload).encode()
    timestamp = str(int(app[SETTINGS]["clock"]()))
    headers = {"Content-Type": "application/json", "X-Cld-Timestamp": timestamp,
               "X-Cld-Signature": notification_signature(body, timestamp, app[ACCOUNT].api_secret)}
    try:
        async with app[CLIENT].post(url, data=body, headers=headers) as answer:
            log.info("notified %s of %s: %s", url, payload.get("public_id"), answer.status)
    except (ClientError, TimeoutError) as exc:
        log.warning("could not notify %s: %s", url, exc)


def admin_refusal(request: web.Request) -> web.Response | None:
    """The Admin API takes the account's key and secret as Basic credentials."""
    account = request.app[ACCOUNT]
    expected = base64.b64encode(f"{account.api_key}:{account.api_secret}".encode()).decode()
    if not hmac.compare_digest(request.headers.get("Authorization", ""), f"Basic {expected}"):
        return error(401, "Invalid credentials")
    if request.match_info["cloud"] != account.cloud_name:
        return error(404, "Resource not found")
    return None


async def get_resource(request: web.Request) -> web.Response:
    if (refused := admin_refusal(request)) is not None:
        return refused
    public_id = request.match_info["public_id"]
    found = request.app[STORE].resource(request.match_info["resource_type"], public_id)
    return web.json_response(found) if found else error(404, f"Resource not found - {public_id}")


async def delete_resources(request: web.Request) -> web.Response:
    if (refused := admin_refusal(request)) is not None:
        return refused
    prefix, resource_type = request.query.get("prefix", ""), request.match_info["resource_type"]
    if not prefix:
        return error(400, "Missing required parameter - public_ids")
    gone = request.app[STORE].public_ids(resource_type, prefix)
    for public_id in gone:
        request.app[STORE].remove(resource_type, public_id)
    return web.json_response({"deleted": {public_id: "deleted" for public_id in gone}, "partial": False})


async def update_access_mode(request: web.Request) -> web.Response:
    """`authenticated`: delivered on signed URLs only; `public`."""
    if (refused := admin_refusal(request)) is not None:
        return refused
    form = await request.post()
    mode, resource_type = str(form.get("access_mode", "")), request.match_info["resource_type"]
    if mode not in ("public", "authenticated"):
        return error(400, "Invalid access_mode")
    public_ids = [str(v) for v in (*form.getall("public_ids[]", []), *form.getall("public_ids", []))]
    if not public_ids:
        return error(400, "Missing required parameter - public_ids")
    store, updated, failed = request.app[STORE], [], []
    for public_id in public_ids:
        resource = store.resource(resource_type, public_id)
        if resource is None:
            failed.append({"public_id": public_id, "error": "not found"})
            continue
        store.keep({**resource, "access_mode": mode})
        updated.append({"public_id": public_id, "access_mode": mode})
    return web.json_response({"updated": updated, "failed": failed})


async def rename(request: web.Request) -> web.Response:
    """Upload API `rename` (signed): the resource under `to_public_id`, its former URLs finding nothing (this
    stand-in keeps no CDN copies: `invalidate` has nothing to drop); a type of delivery other than `upload` is
    not what the service uses."""
    resource_type, form = request.match_info["resource_type"], await request.post()
    params = {name: str(value) for name, value in form.items()}
    if (refused := signature_refusal(request.app, params)) is not None:
        return refused
    from_id, to_id = params.get("from_public_id", ""), params.get("to_public_id", "")
    if not from_id or not to_id:
        return error(400, "Missing required parameter - from_public_id, to_public_id")
    if params.get("type", "upload") != "upload" or params.get("to_type", "upload") != "upload":
        return error(400, "The stand-in renames `upload` resources within their type only")
    if not PUBLIC_ID.match(to_id):
        return error(400, f"Invalid public_id {to_id}")
    store = request.app[STORE]
    resource = store.resource(resource_type, from_id)
    if resource is None:
        return error(404, f"Resource not found - {from_id}")
    if store.resource(resource_type, to_id) is not None and params.get("overwrite") != "true":
        return error(400, f"to_public_id ({to_id}) already exists")
    base = f"{request.url.origin()}/{request.app[ACCOUNT].cloud_name}/{resource_type}/upload"
    return web.json_response(store.rename(resource_type, resource, to_id, base))


async def explicit(request: web.Request) -> web.Response:
    """Upload API `explicit` (signed) with `eager`: the eager files made again, in the background when
    `eager_async`; answered with the resource."""
    resource_type, form = request.match_info["resource_type"], await request.post()
    params = {name: str(value) for name, value in form.items()}
    if (refused := signature_refusal(request.app, params)) is not None:
        return refused
    public_id = params.get("public_id", "")
    resource = request.app[STORE].resource(resource_type, public_id) if params.get("type") == "upload" else None
    if resource is None:
        return error(404, f"Resource not found - {public_id}")
    if not params.get("eager"):
        return web.json_response(resource)
    work = make_derived(request.app, resource_type, public_id, params.get("eager_notification_url"),
                        str(request.url.origin()))
    if params.get("eager_async") != "true":
        await work
        return web.json_response(request.app[STORE].resource(resource_type, public_id))
    background(request.app, work)
    return web.json_response({**resource, "eager": [{"status": "processing", "batch_id": uuid.uuid4().hex}]})


async def deliver(request: web.Request) -> web.StreamResponse:
    """A made file, typed as what was made; an original, typed by what ffmpeg or Pillow found it to be."""
    resource_type, rest = request.match_info["resource_type"], request.match_info["rest"]
    store = request.app[STORE]
    signature, _, signed_path = rest.partition("/") if rest.startswith("s--") else ("", "", rest)
    signed = hmac.compare_digest(signature, delivery_signature(signed_path, request.app[ACCOUNT].api_secret))
    if signature and not signed:
        return error(401, "Invalid signature")
    rest = signed_path
    for made in FILES.get(resource_type, ()):
        head, tail = f"{made.transformation}/", f".{made.extension}"
        public_id = rest[len(head):-len(tail)] if rest.startswith(head) and rest.endswith(tail) else ""
        if public_id and PUBLIC_ID.match(public_id) and made_for(resource_type, made.transformation, made.extension):
            if (store.resource(resource_type, public_id) or {}).get("access_mode") == "authenticated" and not signed:
                return error(401, "Resource is not public: it is delivered on signed URLs only")
            path = store.derived(resource_type, public_id, made)
            if path.is_file():
                return served(path, made.content_type)
    return error(404, "Resource not found")


def served(path: Path, content_type: str) -> web.FileResponse:
    return web.FileResponse(path, headers={"Content-Type": content_type, "X-Content-Type-Options": "nosniff",
                                           "Access-Control-Allow-Origin": "*", "Cache-Control": "max-age=3600"})


async def preflight(request: web.Request) -> web.Response:
    return web.Response(status=204, headers=CORS)


def stand_in_app(account: CloudinaryAccount, data_dir: Path, *, min_chunk_bytes: int = 5 * 1024 * 1024,
                 clock: Callable[[], float] = time.time, lowly: bool = True) -> web.Application:
    """`lowly=False`: its ffmpeg runs outside media.lowly's idle class, as Cloudinary's transcodes run on machines of
    its own; a test of the service then waits for a transcode, not for a core the rest of a busy suite left idle.
    `gateway run`'s stand-in shares the machine that counts the votes, and keeps it."""
    app = web.Application()
    app[ACCOUNT], app[STORE], app[EAGER_TURN] = account, Store(data_dir), asyncio.Lock()
    tasks: set[asyncio.Task[None]] = set()
    app[TASKS] = tasks
    app[SETTINGS] = {"min_chunk_bytes": min_chunk_bytes, "clock": clock, "lowly": lowly}
    app.cleanup_ctx.append(_client)
    app.router.add_route("OPTIONS", "/v1_1/{cloud}/{resource_type}/upload", preflight)
    app.router.add_post("/v1_1/{cloud}/{resource_type}/upload", upload)
    app.router.add_get("/v1_1/{cloud}/resources/{resource_type}/upload/{public_id:.+}", get_resource)
    app.router.add_delete("/v1_1/{cloud}/resources/{resource_type}/upload", delete_resources)
    app.router.add_post("/v1_1/{cloud}/resources/{resource_type}/upload/update_access_mode", update_access_mode)
    app.router.add_post("/v1_1/{cloud}/{resource_type}/rename", rename)
    app.router.add_post("/v1_1/{cloud}/{resource_type}/explicit", explicit)
    app.router.add_get("/{cloud}/{resource_type}/upload/{rest:.+}", deliver)
    return app


async def _client(app: web.Application) -> AsyncIterator[None]:
    async with ClientSession(timeout=ClientTimeout(total=10)) as client:
        app[CLIENT] = client
        yield
        running = app[TASKS]
        for task in tuple(running):
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m media.cloudinary_stand_in", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8094)
    parser.add_argument("--data-dir", type=Path, default=Path("var/cloudinary"))
    args = parser.parse_args(argv)
    account = CloudinarySettings().cloudinary_account()
    if account is None:
        parser.error("no account: set CLOUDINARY_URL, or run in development")
    logging.basicConfig(level=logging.INFO)
    web.run_app(stand_in_app(account, args.data_dir), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
