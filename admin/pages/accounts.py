"""Who may do what: the admin accounts, the blocked numbers and addresses, and the audit trail."""

from __future__ import annotations

from aiohttp import web

from admin.accounts import allowed, list_admins, set_active_by_id
from admin.pages.rendering import render, see_other
from admin.web import (
    form_of,
    guarded,
)
from gateway.core import audit
from gateway.core.audit import Actor, AuditFilter
from gateway.core.errors import DomainError
from gateway.core.voters import blocklist
from gateway.kit.keys import SESSIONS

routes = web.RouteTableDef()

@routes.get("/admin/accounts")
@guarded("accounts.manage")
async def accounts_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    return render(request, "accounts.html", {"admins": await list_admins(request.app[SESSIONS])}, actor)


@routes.post("/admin/accounts/{admin_id:[0-9]{1,9}}/{action:disable|enable}")
@guarded("accounts.manage")
async def account_action(request: web.Request, actor: Actor) -> web.StreamResponse:
    await set_active_by_id(request.app[SESSIONS], actor, int(request.match_info["admin_id"]),
                           request.match_info["action"] == "enable")
    raise see_other("/admin/accounts")


@routes.get("/admin/blocked")
@guarded("blocks.read")
async def blocked_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    numbers, addresses = await blocklist.blocked(request.app[SESSIONS])
    return render(request, "blocked.html", {"numbers": numbers, "addresses": addresses,
                                            "can_manage": allowed(actor.role, "blocks.manage")}, actor)


@routes.post("/admin/blocked/{kind:numbers|addresses}")
@guarded("blocks.manage")
async def block(request: web.Request, actor: Actor) -> web.StreamResponse:
    """Block a number (msisdn) or an address (address: one, or a network in CIDR notation)."""
    return await blocked_change(request, actor, remove=False)


@routes.post("/admin/blocked/{kind:numbers|addresses}/remove")
@guarded("blocks.manage")
async def unblock(request: web.Request, actor: Actor) -> web.StreamResponse:
    return await blocked_change(request, actor, remove=True)


async def blocked_change(request: web.Request, actor: Actor, *, remove: bool) -> web.StreamResponse:
    form = await form_of(request)
    sessions, numbers = request.app[SESSIONS], request.match_info["kind"] == "numbers"
    value = str(form.get("msisdn" if numbers else "address", ""))
    try:
        if remove:
            await (blocklist.unblock_number if numbers else blocklist.unblock_address)(sessions, actor, value)
        else:
            await (blocklist.block_number if numbers else blocklist.block_address)(
                sessions, actor, value, str(form.get("reason", "")))
    except DomainError as exc:
        numbers_now, addresses = await blocklist.blocked(sessions)
        return render(request, "blocked.html", {"numbers": numbers_now, "addresses": addresses, "error": exc.message,
                                                "can_manage": True}, actor, exc.status)
    raise see_other("/admin/blocked")


@routes.get("/admin/audit")
@guarded("audit.read")
async def audit_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    query = request.query
    wanted = AuditFilter(actor=query.get("actor") or None, action=query.get("action") or None,
                         target=query.get("target") or None)
    entries = await audit.entries(request.app[SESSIONS], wanted)
    return render(request, "audit.html", {"entries": entries, "wanted": wanted}, actor)
