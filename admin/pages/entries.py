"""A contest's entries: the call for entries (dates, rules, how many), and the review queue where an organiser
watches each clip and approves the entry (it becomes a candidate with the next free code) or rejects it with
the reason the candidate is told. Auditors read the queue; deciding is for those who may change the contest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from admin.accounts import allowed
from admin.entry_forms import CLIP_STATES, STATUSES, approvals, call_values, entry_id, parse_call, status_of
from admin.money_fields import amounts_in_minor
from admin.pages.contests import contest_id
from admin.pages.rendering import render, see_other
from admin.texts import language_of
from admin.web import form_of, guarded
from gateway.core.audit import Actor
from gateway.core.contests import contests_admin
from gateway.core.contests.catalog import mask_msisdn
from gateway.core.entries import entries_review
from gateway.core.errors import DomainError
from gateway.kit.keys import MEDIA_STORAGE, SESSIONS, SETTINGS

routes = web.RouteTableDef()
ENTRIES = "/admin/contests/{contest_id:[0-9]{1,9}}/entries"


@routes.get(ENTRIES)
@guarded("contests.read")
async def entries_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    return await show_entries(request, actor, contest_id(request))


async def show_entries(request: web.Request, actor: Actor, cid: int, *, error: str | None = None,
                       status: int = 200, call_form: dict[str, Any] | None = None) -> web.Response:
    """The page; after a refused form, with the core's message and what was typed in the call's form."""
    sessions, storage = request.app[SESSIONS], request.app[MEDIA_STORAGE]
    try:
        wanted = status_of(request.query, "pending")
    except DomainError:
        wanted = "pending"  # a hand-edited filter: the queue, not an error page
    detail = await contests_admin.contest_detail(sessions, actor, cid)  # 404 for another organiser's contest
    call = await entries_review.entry_call(sessions, actor, cid)
    rows = await entries_review.list_entries(sessions, storage, actor, cid, wanted)
    return render(request, "entries.html", {
        "contest": detail.contest, "call": call, "rows": rows,
        "call_form": call_form or call_values(call, detail.contest.time_zone, detail.contest.currency),
        "codes_default": request.app[SETTINGS].entry_codes_default_per_day,
        "codes_ceiling": request.app[SETTINGS].entry_codes_per_day,
        "codes": {c.id: c.code for c in detail.candidates}, "status": wanted, "statuses": STATUSES,
        "clip_states": CLIP_STATES, "mask": mask_msisdn,
        "can_write": allowed(actor.role, "contests.write"), "error": error}, actor, status,
        media_from=storage.files_origin)


def back(cid: int, status: str = "pending") -> web.HTTPSeeOther:
    return see_other(f"/admin/contests/{cid}/entries?status={status}")


@routes.post(ENTRIES + "/call")
@guarded("contests.write")
async def save_call(request: web.Request, actor: Actor) -> web.StreamResponse:
    cid = contest_id(request)
    form = await form_of(request)
    try:
        contest = (await contests_admin.contest_detail(request.app[SESSIONS], actor, cid)).contest
        # the fee typed in major units of the contest's currency ("10.50" shillings); the API's stays in minor units
        fields = parse_call(amounts_in_minor(form, ("fee_amount",), contest.currency, language_of(request)),
                            contest.time_zone)
        await entries_review.set_entry_call(request.app[SESSIONS], actor, cid, opens_at=fields.opens_at,
                                            closes_at=fields.closes_at, rules=fields.rules,
                                            max_entries=fields.max_entries, fee_amount=fields.fee_amount,
                                            codes_per_day=fields.codes_per_day,
                                            codes_ceiling=request.app[SETTINGS].entry_codes_per_day)
    except DomainError as exc:
        if exc.status == 404:
            raise
        typed = {name: str(form.get(name) or "") for name in ("opens_at", "closes_at", "rules", "max_entries",
                                                                 "fee_amount", "codes_per_day")}
        return await show_entries(request, actor, cid, error=exc.message, status=exc.status, call_form=typed)
    raise back(cid)


@routes.post(ENTRIES + "/approve")
@guarded("contests.write")
async def approve(request: web.Request, actor: Actor) -> web.StreamResponse:
    """One entry (its own button) or the ticked ones (the bulk button): all of them, or none and why."""
    cid = contest_id(request)
    form = await form_of(request)
    try:
        ids, watched = approvals(form.get("entry"))
        await entries_review.approve_entries(request.app[SESSIONS], request.app[MEDIA_STORAGE], actor, ids,
                                             datetime.now(UTC), watched)
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await show_entries(request, actor, cid, error=exc.message, status=exc.status)
    raise back(cid)


@routes.post(ENTRIES + "/reject")
@guarded("contests.write")
async def reject(request: web.Request, actor: Actor) -> web.StreamResponse:
    cid = contest_id(request)
    form = await form_of(request)
    try:
        await entries_review.reject_entry(request.app[SESSIONS], actor, entry_id(form.get("entry")),
                                          str(form.get("reason") or ""), datetime.now(UTC))
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await show_entries(request, actor, cid, error=exc.message, status=exc.status)
    raise back(cid)
