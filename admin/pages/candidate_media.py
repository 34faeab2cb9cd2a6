"""An organiser replaces a candidate's clip or photo from a phone: the page's script sends the file straight to the
media storage with a grant from the admin API (the public site's uploader.js, the one candidates enter with), follows
its preparation by the media worker, then sets it as the candidate's. No file passes through this process."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from admin.pages.rendering import render
from admin.web import guarded
from gateway.core.audit import Actor
from gateway.core.contests import contests_admin
from gateway.core.media import uploads
from gateway.core.media.uploads import UploadView
from gateway.db.models import Candidate
from gateway.kit.keys import MEDIA_STORAGE, SESSIONS

routes = web.RouteTableDef()
SCRIPT = (Path(__file__).parent.parent / "static" / "candidate_upload.js").read_text()
API = "/api/v1/admin/candidates/{id}/{kind}"


def script_data(candidate: Candidate, kind: str) -> dict[str, str]:
    """Where the page's script asks for a grant, follows the upload and sets it; where it goes once done."""
    api = API.format(id=candidate.id, kind=kind)
    return {"grant": f"{api}/grant", "uploads": f"{api}/uploads/", "set": api,
            "back": f"/admin/contests/{candidate.contest_id}"}


@routes.get("/admin/candidates/{candidate_id:[0-9]{1,9}}/{kind:clip|photo}", name="admin_candidate_media")
@guarded("contests.write")
async def media_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    sessions, storage, kind = request.app[SESSIONS], request.app[MEDIA_STORAGE], request.match_info["kind"]
    candidate = await contests_admin.candidate_of(sessions, actor, int(request.match_info["candidate_id"]))
    held = candidate.clip_id if kind == "clip" else candidate.photo_id
    upload = await uploads.upload_of(sessions, held) if held else None
    # On signed links (a hidden candidate's files are taken down on every link all the same); a photo sent before
    # photos went through the storage is the site's own, at its URL.
    shown = (UploadView.of(upload, storage, signed=True).urls if upload
             else {"photo": candidate.photo_url} if kind == "photo" and candidate.photo_url else None)
    return render(request, "candidate_media.html", {
        "kind": kind, "candidate": candidate, "shown": shown, "data": script_data(candidate, kind)},
        actor, media_from=storage.files_origin, uploads_to=storage.upload_origin)


@routes.get("/admin/static/candidate_upload.js")
async def upload_script(request: web.Request) -> web.StreamResponse:
    return web.Response(text=SCRIPT, content_type="text/javascript", headers={"Cache-Control": "max-age=300"})
