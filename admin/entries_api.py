"""Entries in the admin JSON API: the call for entries, the review queue and its decisions.

The same rules as the pages: reading needs `contests.read`, deciding `contests.write`; an organiser sees only
their own contests' entries (another's are 404, as a missing one)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from admin.api import PREFIX
from admin.entry_forms import approvals, call_json, entry_id, entry_json, parse_call, status_of
from admin.web import form_of, guarded
from gateway.core.audit import Actor
from gateway.core.contests import contests_admin
from gateway.core.entries import entries_review
from gateway.db.models import Candidate
from gateway.kit.keys import MEDIA_STORAGE, SESSIONS, SETTINGS

CONTEST_ENTRIES = PREFIX + "/contests/{contest_id:[0-9]{1,9}}/entries"
routes = web.RouteTableDef()


def cid(request: web.Request) -> int:
    return int(request.match_info["contest_id"])


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
            "clip_id": str(candidate.clip_id) if candidate.clip_id else None,
            "photo_id": str(candidate.photo_id) if candidate.photo_id else None}


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
