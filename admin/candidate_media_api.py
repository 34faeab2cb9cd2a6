"""An organiser's own clip or photo for a candidate, in the admin JSON API: a tus grant for an upload of their own,
where it stands, then the upload set as the candidate's once the media worker has prepared it. The file goes from
the organiser's browser straight to the media storage: no route here reads it.

`{kind}` in the paths is `clip` or `photo`; every route needs `contests.write` on the candidate's contest (another
organiser's candidate is 404, as a missing one)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from admin.api import PREFIX
from admin.entries_api import candidate_json
from admin.entry_forms import upload_json
from admin.web import form_of, guarded
from gateway.core.audit import Actor
from gateway.core.contests import contests_admin
from gateway.core.entries.candidate_media import NOUNS, set_candidate_media
from gateway.core.errors import DomainError, NotFound
from gateway.core.media import uploads
from gateway.core.media.uploads import UploadView
from gateway.core.media_storage import UploadGrant
from gateway.db.models import UploadKind
from gateway.kit.keys import MEDIA_STORAGE, SESSIONS

CANDIDATE_MEDIA = PREFIX + "/candidates/{candidate_id:[0-9]{1,9}}/{kind:clip|photo}"
KINDS = {noun: kind for kind, noun in NOUNS.items()}
routes = web.RouteTableDef()


def candidate_id(request: web.Request) -> int:
    return int(request.match_info["candidate_id"])


def kind_of(request: web.Request) -> UploadKind:
    return KINDS[request.match_info["kind"]]


def grant_json(grant: UploadGrant) -> dict[str, Any]:
    return {"upload_id": grant.upload_id, "protocol": grant.protocol, "url": grant.url, "max_bytes": grant.max_bytes,
            "expires_at": grant.expires_at.isoformat(), "fields": dict(grant.fields), "chunk_bytes": grant.chunk_bytes}


@routes.post(CANDIDATE_MEDIA + "/grant")
@guarded("contests.write")
async def media_grant(request: web.Request, actor: Actor) -> web.StreamResponse:
    """A grant to upload a new clip or photo for this candidate (the organiser's, so no phone number): send the
    file to the storage with it, follow it at GET …/{kind}/uploads/{upload_id}, then PUT …/{kind} once ready."""
    candidate = await contests_admin.candidate_of(request.app[SESSIONS], actor, candidate_id(request))  # scope
    grant = await uploads.grant(request.app[SESSIONS], request.app[MEDIA_STORAGE], candidate.contest_id,
                                kind_of(request), None, datetime.now(UTC))
    return web.json_response(grant_json(grant), status=201)


def upload_id_of(value: object, noun: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise DomainError(f"No such {noun} upload for this contest.", code="unknown_upload",
                          field="upload_id") from None


@routes.get(CANDIDATE_MEDIA + "/uploads/{upload_id}")
@guarded("contests.write")
async def media_upload(request: web.Request, actor: Actor) -> web.StreamResponse:
    """Where an upload of this candidate's contest stands (received once the storage has it all, then ready or
    refused with the reason)."""
    sessions, storage, kind = request.app[SESSIONS], request.app[MEDIA_STORAGE], kind_of(request)
    candidate = await contests_admin.candidate_of(sessions, actor, candidate_id(request))  # scope
    upload = await uploads.upload_of(sessions, upload_id_of(request.match_info["upload_id"], NOUNS[kind]))
    if upload is None or upload.contest_id != candidate.contest_id or upload.kind is not kind:
        raise NotFound(f"No such {NOUNS[kind]} upload for this contest.", code="unknown_upload")
    if await uploads.check_received(sessions, storage, upload):
        upload = await uploads.upload_of(sessions, upload.id) or upload
    return web.json_response(upload_json(UploadView.of(upload, storage, signed=True)))


@routes.put(CANDIDATE_MEDIA)
@guarded("contests.write")
async def set_media(request: web.Request, actor: Actor) -> web.StreamResponse:
    """{"upload_id": …}: the candidate's clip or photo from now on (409 until the upload is ready); the former goes."""
    kind = kind_of(request)
    upload_id = upload_id_of((await form_of(request)).get("upload_id"), NOUNS[kind])
    candidate = await set_candidate_media(request.app[SESSIONS], request.app[MEDIA_STORAGE], actor,
                                          candidate_id(request), kind, upload_id, datetime.now(UTC))
    return web.json_response(candidate_json(candidate))
