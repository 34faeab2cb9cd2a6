"""Candidates: added one by one or from a CSV, shown or hidden, moved in the list; the photos organisers sent
before photos went through the media storage, still served while their candidate is shown, or sent to where they
were moved."""

from __future__ import annotations

from aiohttp import web

from admin import photos
from admin.pages.contests import contest_id, show_contest
from admin.pages.rendering import see_other
from admin.web import (
    form_of,
    guarded,
)
from gateway.core.audit import Actor
from gateway.core.contests import catalog, contests_admin
from gateway.core.entries import former_photos
from gateway.core.errors import DomainError
from gateway.core.media_storage import sized_url
from gateway.kit.keys import MEDIA_STORAGE, SESSIONS, SETTINGS

routes = web.RouteTableDef()

@routes.post("/admin/contests/{contest_id:[0-9]{1,9}}/candidates")
@guarded("contests.write")
async def add_candidate(request: web.Request, actor: Actor) -> web.StreamResponse:
    cid = contest_id(request)
    form = await form_of(request)
    try:
        await contests_admin.add_candidate(request.app[SESSIONS], actor, cid, str(form.get("name", "")),
                                           str(form.get("code", "")), str(form.get("bio", "")))
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await show_contest(request, actor, cid, error=exc.message, status=exc.status)
    raise see_other(f"/admin/contests/{cid}")


@routes.post("/admin/contests/{contest_id:[0-9]{1,9}}/candidates/import")
@guarded("contests.write")
async def import_candidates(request: web.Request, actor: Actor) -> web.StreamResponse:
    cid = contest_id(request)
    form = await form_of(request)
    try:
        made = await contests_admin.import_candidates(request.app[SESSIONS], actor, cid, str(form.get("csv", "")))
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await show_contest(request, actor, cid, error=exc.message, status=exc.status)
    return await show_contest(request, actor, cid, notice=f"{len(made)} candidates imported.")


@routes.post("/admin/candidates/{candidate_id:[0-9]{1,9}}/status")
@guarded("contests.write")
async def candidate_status(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    candidate = await contests_admin.set_candidate_status(
        request.app[SESSIONS], actor, int(request.match_info["candidate_id"]), str(form.get("status", "")))
    raise see_other(f"/admin/contests/{candidate.contest_id}")


@routes.post("/admin/candidates/{candidate_id:[0-9]{1,9}}/move")
@guarded("contests.write")
async def candidate_move(request: web.Request, actor: Actor) -> web.StreamResponse:
    """One place up or down in the public lists' order."""
    form = await form_of(request)
    candidate = await contests_admin.move_candidate(
        request.app[SESSIONS], actor, int(request.match_info["candidate_id"]), str(form.get("direction", "")))
    raise see_other(f"/admin/contests/{candidate.contest_id}")


@routes.get("/photos/{name}")
async def photo(request: web.Request) -> web.StreamResponse:
    """A stored candidate photo: a JPEG we wrote ourselves, served so no browser takes it for anything else; only
    while its candidate is shown, and kept by caches a minute at most, so a hidden candidate's leaves them soon.
    One moved into the media storage since is sent there (the same size), from any host."""
    name = request.match_info["name"]
    original = photos.original_name(name) or ""
    data_dir, sessions = request.app[SETTINGS].gateway_data_dir, request.app[SESSIONS]
    path = photos.sized_path(data_dir, name) or photos.stored_path(data_dir, original)
    if path is None or not await catalog.photo_shown(sessions, photos.URL_PREFIX + original):
        moved = await former_photos.moved_to(sessions, photos.URL_PREFIX + original) if original else None
        if moved is not None:
            size = photos.size_of(name)
            there = (sized_url(request.app[MEDIA_STORAGE], moved, size) if size else None) or moved
            raise web.HTTPFound(there, headers={"Cache-Control": "public, max-age=60"})
        raise web.HTTPNotFound(headers={"Cache-Control": "no-store"})
    return web.FileResponse(path, headers={
        "Content-Type": "image/jpeg", "X-Content-Type-Options": "nosniff", "Content-Disposition": "inline",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "public, max-age=60", "Cross-Origin-Resource-Policy": "same-origin"})
