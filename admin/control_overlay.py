"""The broadcast overlay from the control room: the producer shows or hides each public contest's overlay, and may
impose its layout (the full board, the lower-third strip, the corner bug), on every overlay page open on it at once.

The cue goes to Redis and its channel (`gateway.kit.overlay_cue`); the board's hubs send the contest's board again
with it, and each overlay follows within the second. Whoever may change a contest cues it (`contests.write`: an
owner any, an organiser their own); the room's other readers see the cues only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy import select

from admin.accounts import allowed
from admin.web import form_of, guarded, is_api
from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.contests.catalog import PUBLIC_STATUSES
from gateway.core.contests.scope import contest_in_scope, visible_to
from gateway.core.errors import DomainError
from gateway.db.models import Contest
from gateway.kit.keys import REDIS, SESSIONS
from gateway.kit.overlay_cue import LAYOUTS, OverlayCue, read_cue, set_cue

routes = web.RouteTableDef()
CUE_PERMISSION = "contests.write"


class InvalidCue(DomainError):
    status = 400
    code = "invalid_cue"


@dataclass(frozen=True)
class CuedContest:
    id: int
    slug: str
    name: str
    cue: OverlayCue
    known: bool  # False: Redis did not answer, the cue shown is the default


def may_cue(actor: Actor) -> bool:
    return allowed(actor.role, CUE_PERMISSION)


async def cued_contests(app: web.Application, actor: Actor) -> list[CuedContest]:
    """The public contests the actor sees, each with its overlay's cue."""
    async with app[SESSIONS]() as session:
        rows = (await session.execute(select(Contest.id, Contest.slug, Contest.name).where(
            Contest.status.in_(PUBLIC_STATUSES), visible_to(actor)).order_by(Contest.id))).all()
    contests = []
    for contest_id, slug, name in rows:
        try:
            cue, known = await read_cue(app[REDIS], contest_id), True
        except (RedisError, OSError):
            cue, known = OverlayCue(), False
        contests.append(CuedContest(contest_id, slug, name, cue, known))
    return contests


def parse_cue(form: Mapping[str, Any]) -> OverlayCue:
    """`shown` (1/0, true/false) and `layout` (one of LAYOUTS, or empty: each overlay's own)."""
    shown = form.get("shown")
    if shown in ("1", "true", True):
        visible = True
    elif shown in ("0", "false", False):
        visible = False
    else:
        raise InvalidCue("shown: 1 (on air) or 0 (hidden).", field="shown")
    layout = form.get("layout") or None
    if layout is not None and layout not in LAYOUTS:
        raise InvalidCue(f"layout: one of {', '.join(LAYOUTS)}, or empty for each overlay's own.", field="layout")
    return OverlayCue(visible, layout)


@routes.post(r"/admin/control/overlay/{contest_id:\d+}")
@routes.post(r"/api/v1/admin/control/overlay/{contest_id:\d+}")
@guarded(CUE_PERMISSION)
async def cue_overlay(request: web.Request, actor: Actor) -> web.StreamResponse:
    contest_id = int(request.match_info["contest_id"])
    cue = parse_cue(await form_of(request))
    async with request.app[SESSIONS].begin() as session:
        await contest_in_scope(session, actor, contest_id)  # another organiser's contest is as absent
        before = await read_cue(request.app[REDIS], contest_id)
        await set_cue(request.app[REDIS], contest_id, cue)
        # Audited as any change to a contest is: who put it on air or took it off, and when.
        await audit.record(session, actor, "contest.overlay", f"contest:{contest_id}", before=before.as_json(),
                           after=cue.as_json())
    if is_api(request):
        return web.json_response({"contest_id": contest_id, **cue.as_json()})
    raise web.HTTPSeeOther("/admin/control#overlays")


def setup(app: web.Application) -> None:
    app.add_routes(routes)
