"""Entries in the admin JSON API: the call for entries, the review queue and its decisions, and an organiser's
replacement of a candidate's clip (a tus grant for an upload of their own, then the upload set once ready).

The same rules as the pages: reading needs `contests.read`, deciding `contests.write`; an organiser sees only
their own contests' entries (another's are 404, as a missing one)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from admin.api import PREFIX
from admin.entry_forms import approvals, call_json, entry_id, entry_json, parse_call, status_of, upload_json
from admin.web import form_of, guarded
from gateway.core.audit import Actor
from gateway.core.contests import contests_admin
from gateway.core.entries import entries_review
from gateway.core.errors import DomainError, NotFound
from gateway.core.media import uploads
from gateway.core.media.uploads import UploadView
from gateway.core.media_storage import UploadGrant
from gateway.db.models import Candidate, UploadKind
from gateway.kit.keys import MEDIA_STORAGE, SESSIONS, SETTINGS

CONTEST_ENTRIES = PREFIX + "/contests/{contest_id:[0-9]{1,9}}/entries"
CANDIDATE_CLIP = PREFIX + "/candidates/{candidate_id:[0-9]{1,9}}/clip"
routes = web.RouteTableDef()


def cid(request: web.Request) -> int:
    return int(request.match_info["contest_id"])


def candidate_id(request: web.Request) -> int:
    return int(request.match_info["candidate_id"])


@routes.get(CONTEST_ENTRIES)
@guarded("contests.read")
async def entries(request: web.Request, actor: Actor) -> web.StreamResponse:
    """Oldest first; ?status=pending|approved|rejected (none: all)."""
    rows = await entries_review.list_entries(request.app[SESSIONS], request.app[MEDIA_STORAGE], actor, cid(request),
                                             status_of(request.query, None))
    return web.json_response({"entries": [entry_json(row) for row in rows]})


@routes.get(CONTEST_ENTRIES + "/call")
@guarded("contests.read")
async def get_call(request: web.Request, actor: Actor) -> web.StreamResponse:
    call = await entries_review.entry_call(request.app[SESSIONS], actor, cid(request))
    return web.json_response({"call": call_json(call)})


@routes.put(CONTEST_ENTRIES + "/call")
@guarded("contests.write")
async def put_call(request: web.Request, actor: Actor) -> web.StreamResponse:
    contest = (await contests_admin.contest_detail(request.app[SESSIONS], actor, cid(request))).contest
    fields = parse_call(await form_of(request), contest.time_zone)  # a time without an offset: on its clock
    call = await entries_review.set_entry_call(request.app[SESSIONS], actor, cid(request), opens_at=fields.opens_at,
                                               closes_at=fields.closes_at, rules=fields.rules,
                                               max_entries=fields.max_entries, fee_amount=fields.fee_amount,
                                               codes_per_day=fields.codes_per_day,
                                               codes_ceiling=request.app[SETTINGS].entry_codes_per_day)
    return web.json_response({"call": call_json(call)})


def candidate_json(candidate: Candidate) -> dict[str, Any]:
    return {"id": candidate.id, "contest_id": candidate.contest_id, **contests_admin.candidate_snapshot(candidate),
            "clip_id": str(candidate.clip_id) if candidate.clip_id else None}


@routes.post(PREFIX + "/entries/approve")
@guarded("contests.write")
async def approve(request: web.Request, actor: Actor) -> web.StreamResponse:
    """{"entries": [ids]}: each a candidate with the next free code, all of them or none (409 naming why). An item
    `<entry id>:<clip id>` says which clip was watched: one the candidate replaced since is refused (clip_changed)."""
    ids, watched = approvals((await form_of(request)).get("entries"))
    made = await entries_review.approve_entries(request.app[SESSIONS], request.app[MEDIA_STORAGE], actor, ids,
                                                datetime.now(UTC), watched)
    return web.json_response({"candidates": [candidate_json(c) for c in made]})


@routes.post(PREFIX + "/entries/{entry_id}/reject")
@guarded("contests.write")
async def reject(request: web.Request, actor: Actor) -> web.StreamResponse:
    """{"reason": "…"}: required; the candidate is told it by text message."""
    reason = (await form_of(request)).get("reason")
    entry = await entries_review.reject_entry(request.app[SESSIONS], actor, entry_id(request.match_info["entry_id"]),
                                              str(reason or ""), datetime.now(UTC))
    return web.json_response({"id": str(entry.id), "status": entry.status.value, "reason": entry.reason,
                              "decided_by": entry.decided_by,
                              "decided_at": entry.decided_at.isoformat() if entry.decided_at else None})


def grant_json(grant: UploadGrant) -> dict[str, Any]:
    return {"upload_id": grant.upload_id, "protocol": grant.protocol, "url": grant.url, "max_bytes": grant.max_bytes,
            "expires_at": grant.expires_at.isoformat(), "fields": dict(grant.fields), "chunk_bytes": grant.chunk_bytes}


@routes.post(CANDIDATE_CLIP + "/grant")
@guarded("contests.write")
async def clip_grant(request: web.Request, actor: Actor) -> web.StreamResponse:
    """A grant to upload a new clip for this candidate (the organiser's, so no phone number): send the file to
    the storage with it, follow it at GET …/clip/uploads/{upload_id}, then PUT …/clip once it is ready."""
    candidate = await contests_admin.candidate_of(request.app[SESSIONS], actor, candidate_id(request))  # scope
    grant = await uploads.grant(request.app[SESSIONS], request.app[MEDIA_STORAGE], candidate.contest_id,
                                UploadKind.CLIP, None, datetime.now(UTC))
    return web.json_response(grant_json(grant), status=201)


def upload_id_of(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise DomainError("No such clip upload for this contest.", code="unknown_upload", field="upload_id") from None


@routes.get(CANDIDATE_CLIP + "/uploads/{upload_id}")
@guarded("contests.write")
async def clip_upload(request: web.Request, actor: Actor) -> web.StreamResponse:
    """Where an upload of this candidate's contest stands (received once the storage has it all, then ready or
    refused with the reason)."""
    sessions, storage = request.app[SESSIONS], request.app[MEDIA_STORAGE]
    candidate = await contests_admin.candidate_of(sessions, actor, candidate_id(request))  # scope
    upload = await uploads.upload_of(sessions, upload_id_of(request.match_info["upload_id"]))
    if upload is None or upload.contest_id != candidate.contest_id or upload.kind is not UploadKind.CLIP:
        raise NotFound("No such clip upload for this contest.", code="unknown_upload")
    if await uploads.check_received(sessions, storage, upload):
        upload = await uploads.upload_of(sessions, upload.id) or upload
    return web.json_response(upload_json(UploadView.of(upload, storage, signed=True)))


@routes.put(CANDIDATE_CLIP)
@guarded("contests.write")
async def set_clip(request: web.Request, actor: Actor) -> web.StreamResponse:
    """{"upload_id": …}: the candidate's clip from now on (409 until the upload is ready); the former one goes."""
    upload_id = upload_id_of((await form_of(request)).get("upload_id"))
    candidate = await entries_review.set_candidate_clip(request.app[SESSIONS], actor, candidate_id(request),
                                                        upload_id, datetime.now(UTC))
    return web.json_response(candidate_json(candidate))
