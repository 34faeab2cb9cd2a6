"""The admin area's JSON API under /api/v1/admin/: the same operations as the pages, with
`Authorization: Bearer <access token>`; tokens from POST /api/v1/admin/token, renewed at /token/refresh.
Errors are the API's usual `{"error": {"code", "message", "field"}}`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from admin import money_fields, signin, tier_fields, tokens
from admin.accounts import set_active_by_id
from admin.pages.orders import order_filter
from admin.totp_keys import TOTP_KEYS
from admin.web import FAMILY_KEY, contest_settings, form_of, guarded, jwt_key, provider_names
from gateway.core import audit
from gateway.core.audit import Actor, AuditFilter
from gateway.core.contests import contests_admin
from gateway.core.contests.contest_drafts import parse_contest
from gateway.core.entered_number import INTEGER_MAX, entered_whole
from gateway.core.errors import DomainError, NotFound
from gateway.core.oversight import orders_admin
from gateway.core.texts import shown_digits
from gateway.core.voters import blocklist
from gateway.db.models import AuditEntry, Candidate, Contest
from gateway.kit.keys import PROVIDERS, REDIS, SESSIONS
from gateway.kit.throttle import client_address, enforce

routes = web.RouteTableDef()
PREFIX = "/api/v1/admin"
SIGNIN_PER_ADDRESS = 20
SIGNIN_WINDOW = 900


def contest_json(contest: Contest, channels: Mapping[str, Any]) -> dict[str, Any]:
    """A contest with `channels`: the channels' own settings of it."""
    return money_fields.with_digits({"id": contest.id, **contests_admin.snapshot(contest, channels)})


async def contests_json(request: web.Request, contests: Sequence[Contest]) -> list[dict[str, Any]]:
    fields = await contests_admin.channel_settings(request.app[SESSIONS], contest_settings(request),
                                                   [c.id for c in contests])
    return [contest_json(contest, fields[contest.id]) for contest in contests]


def candidate_json(candidate: Candidate, votes: int | None = None) -> dict[str, Any]:
    body = {"id": candidate.id, **contests_admin.candidate_snapshot(candidate)}
    if votes is not None:
        body["votes"] = votes
    return body


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "at": entry.created_at.isoformat(), "actor": entry.actor, "address": entry.address,
            "action": entry.action, "target": entry.target, "before": entry.before, "after": entry.after,
            "details": entry.details}


def tokens_json(issued: signin.Issued) -> web.Response:
    return web.json_response({"access_token": issued.access_token, "refresh_token": issued.refresh_token,
                              "token_type": "Bearer", "expires_in": 900},
                             headers={"Cache-Control": "no-store"})


async def limit_signin(request: web.Request) -> str:
    address = client_address(request)
    await enforce(request.app[REDIS], f"admin-signin:{address}", SIGNIN_PER_ADDRESS, SIGNIN_WINDOW,
                  "Too many sign-in attempts from this address; wait a while.")
    return address


@routes.post(f"{PREFIX}/token")
async def token(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    address = await limit_signin(request)
    result = await signin.sign_in(request.app[SESSIONS], request.app[REDIS], jwt_key(request), request.app[TOTP_KEYS],
                                  str(form.get("email", "")),
                                  str(form.get("password", "")), str(form.get("code", "")), address)
    if isinstance(result, signin.NeedsEnrolment):
        return enrolment_json(request, result)
    return tokens_json(result)


def enrolment_json(request: web.Request, needs: signin.NeedsEnrolment) -> web.Response:
    """The page's enrolment for a script: the secret's URI (given with the right password until a first
    code confirms it) and a short-lived ticket to post that code with. No tokens yet: 202, not 200."""
    return web.json_response({
        "status": "totp_enrolment_required", "totp_uri": needs.totp_uri,
        "enrol_ticket": needs.ticket,
        "expires_in": int(tokens.ENROL_TTL.total_seconds()),
        "message": "Add totp_uri to your authenticator app, then POST enrol_ticket and the app's code to "
                   f"{PREFIX}/token/enrol."},
        status=202, headers={"Cache-Control": "no-store"})


@routes.post(f"{PREFIX}/token/enrol")
async def token_enrol(request: web.Request) -> web.StreamResponse:
    """The first code confirms the second factor and signs in (the page's /admin/enrol, in JSON)."""
    form = await form_of(request)
    address = await limit_signin(request)
    try:
        ticket = tokens.decode_enrol_ticket(jwt_key(request), str(form.get("enrol_ticket", "")))
    except tokens.InvalidToken:
        raise signin.SignInRefused("That ticket is not valid or has expired; sign in again.") from None
    issued = await signin.enrol(request.app[SESSIONS], request.app[REDIS], jwt_key(request), request.app[TOTP_KEYS],
                                ticket, str(form.get("code", "")), address)
    return tokens_json(issued)


@routes.post(f"{PREFIX}/token/refresh")
async def token_refresh(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    issued = await signin.refresh(request.app[SESSIONS], jwt_key(request), str(form.get("refresh_token", "")),
                                  client_address(request))
    return tokens_json(issued)


@routes.post(f"{PREFIX}/signout")
@guarded("signed_in")
async def signout(request: web.Request, actor: Actor) -> web.StreamResponse:
    await signin.sign_out(request.app[SESSIONS], actor, request[FAMILY_KEY])
    return web.json_response({"signed_out": True})


@routes.get(f"{PREFIX}/contests")
@guarded("contests.read")
async def contests(request: web.Request, actor: Actor) -> web.StreamResponse:
    rows = await contests_admin.list_contests(request.app[SESSIONS], actor)
    return web.json_response({"contests": await contests_json(request, rows)})


@routes.post(f"{PREFIX}/contests")
@guarded("contests.write")
async def create_contest(request: web.Request, actor: Actor) -> web.StreamResponse:
    draft = parse_contest(await form_of(request), contest_settings(request), providers=provider_names(request))
    money_fields.check_prices(request, draft)
    tier_fields.check_tier_prices(request, draft)
    contest = await contests_admin.create_contest(request.app[SESSIONS], actor, draft)
    return web.json_response((await contests_json(request, [contest]))[0], status=201)


def cid(request: web.Request) -> int:
    return int(request.match_info["contest_id"])


@routes.get(PREFIX + "/contests/{contest_id:[0-9]{1,9}}")
@guarded("contests.read")
async def contest(request: web.Request, actor: Actor) -> web.StreamResponse:
    detail = await contests_admin.contest_detail(request.app[SESSIONS], actor, cid(request))
    return web.json_response({**(await contests_json(request, [detail.contest]))[0], "candidates": [
        candidate_json(c, detail.votes.get(c.id, 0)) for c in detail.candidates]})


@routes.put(PREFIX + "/contests/{contest_id:[0-9]{1,9}}")
@guarded("contests.write")
async def update_contest(request: web.Request, actor: Actor) -> web.StreamResponse:
    draft = parse_contest(await form_of(request), contest_settings(request), providers=provider_names(request))
    money_fields.check_prices(request, draft)
    tier_fields.check_tier_prices(request, draft)
    updated = await contests_admin.update_contest(request.app[SESSIONS], actor, cid(request), draft,
                                                  contest_settings(request))
    return web.json_response((await contests_json(request, [updated]))[0])


@routes.post(PREFIX + "/contests/{contest_id:[0-9]{1,9}}/{action:open|pause|close}")
@guarded("contests.write")
async def contest_action(request: web.Request, actor: Actor) -> web.StreamResponse:
    changed = await contests_admin.change_status(request.app[SESSIONS], actor, cid(request),
                                                 request.match_info["action"], contest_settings(request))
    return web.json_response((await contests_json(request, [changed]))[0])


@routes.post(PREFIX + "/contests/{contest_id:[0-9]{1,9}}/candidates")
@guarded("contests.write")
async def add_candidate(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    code, bio = form.get("code"), form.get("bio")
    made = await contests_admin.add_candidate(request.app[SESSIONS], actor, cid(request), str(form.get("name", "")),
                                              str(code) if code is not None else None, str(bio) if bio else None)
    return web.json_response(candidate_json(made), status=201)


@routes.post(PREFIX + "/contests/{contest_id:[0-9]{1,9}}/candidates/import")
@guarded("contests.write")
async def import_candidates(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    made = await contests_admin.import_candidates(request.app[SESSIONS], actor, cid(request), str(form.get("csv", "")))
    return web.json_response({"imported": [candidate_json(c) for c in made]}, status=201)


@routes.put(PREFIX + "/contests/{contest_id:[0-9]{1,9}}/candidates/order")
@guarded("contests.write")
async def reorder_candidates(request: web.Request, actor: Actor) -> web.StreamResponse:
    """The public lists' order: {"order": ["03", "01", "02"]}, every candidate's code once."""
    order = (await form_of(request)).get("order")
    if not isinstance(order, list) or not all(isinstance(code, str) for code in order):
        raise DomainError("order must be a list of candidate codes.", code="invalid_field", field="order")
    made = await contests_admin.reorder_candidates(request.app[SESSIONS], actor, cid(request), order)
    return web.json_response({"order": [candidate_json(c) for c in made]})


@routes.patch(PREFIX + "/candidates/{candidate_id:[0-9]{1,9}}")
@guarded("contests.write")
async def edit_candidate(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    candidate_id = int(request.match_info["candidate_id"])
    sessions = request.app[SESSIONS]
    candidate = None
    if "name" in form or "bio" in form:
        candidate = await contests_admin.edit_candidate(sessions, actor, candidate_id, str(form.get("name", "")),
                                                        form.get("bio") and str(form["bio"]))
    if "status" in form:
        candidate = await contests_admin.set_candidate_status(sessions, actor, candidate_id, str(form["status"]))
    if candidate is None:
        raise DomainError("Send name and bio, or status.", code="nothing_to_change")
    return web.json_response(candidate_json(candidate))


def order_json(row: orders_admin.OrderRow) -> dict[str, Any]:
    order = row.order
    return {"id": str(order.id), "payment_reference": str(order.payment_reference), "contest": row.contest,
            "candidate": row.candidate, "entry_id": str(order.entry_id) if order.entry_id else None,
            "quantity": order.quantity, "amount": order.amount, "currency": order.currency,
            "minor_digits": shown_digits(order.currency),
            "status": order.status.value, "status_reason": order.status_reason, "channel": order.channel,
            "provider": order.provider, "provider_txn_id": order.provider_txn_id, "msisdn": order.voter_msisdn,
            "created_at": order.created_at.isoformat()}


def order_uuid(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["order_id"])
    except ValueError:
        raise NotFound("No vote order has that id.", code="order_not_found") from None


@routes.get(f"{PREFIX}/orders")
@guarded("orders.read")
async def orders(request: web.Request, actor: Actor) -> web.StreamResponse:
    rows = await orders_admin.search_orders(request.app[SESSIONS], actor, order_filter(request.query))
    return web.json_response({"orders": [order_json(row) for row in rows]})


@routes.get(PREFIX + "/orders/{order_id}")
@guarded("orders.read")
async def order(request: web.Request, actor: Actor) -> web.StreamResponse:
    detail = await orders_admin.order_detail(request.app[SESSIONS], actor, order_uuid(request))
    return web.json_response({
        **order_json(detail.row),
        "events": [{"kind": e.kind, "outcome": e.outcome, "received_at": e.received_at.isoformat(), "body": e.body}
                   for e in detail.events],
        "messages": [{"topic": m.topic, "created_at": m.created_at.isoformat(),
                      "delivered_at": m.delivered_at.isoformat() if m.delivered_at else None} for m in detail.messages],
        "audit": [audit_json(a) for a in detail.audit]})


@routes.post(PREFIX + "/orders/{order_id}/resend")
@guarded("orders.resend")
async def resend(request: web.Request, actor: Actor) -> web.StreamResponse:
    topic = await orders_admin.resend_receipt(request.app[SESSIONS], actor, order_uuid(request))
    return web.json_response({"queued": topic}, status=202)


@routes.post(PREFIX + "/orders/{order_id}/refund")
@guarded("orders.refund")
async def refund(request: web.Request, actor: Actor) -> web.StreamResponse:
    """An owner refunds a paid order (reason): 409 when it is not paid or already refunded, 502 when the provider
    refused (either way nothing changed)."""
    form = await form_of(request)
    outcome = await orders_admin.refund_order(request.app[SESSIONS], request.app[PROVIDERS], actor,
                                              order_uuid(request), str(form.get("reason", "")))
    return web.json_response({"status": outcome.status.value, "message": outcome.message})


@routes.get(f"{PREFIX}/review")
@guarded("review.read")
async def review_queue(request: web.Request, actor: Actor) -> web.StreamResponse:
    items = await orders_admin.waiting_reviews(request.app[SESSIONS])
    return web.json_response({"items": [
        {"order_id": str(i.order_id), "kind": i.kind.value, "reason": i.reason, "status": i.status.value,
         "contest": i.contest, "provider": i.provider, "amount": i.amount, "currency": i.currency,
         "minor_digits": shown_digits(i.currency),
         "quantity": i.quantity, "voter": i.voter, "noted_at": i.noted_at.isoformat(),
         "decisions": list(orders_admin.DECISIONS[i.kind]),
         "events": [{"kind": e.kind, "outcome": e.outcome, "received_at": e.received_at.isoformat()}
                    for e in i.events]} for i in items]})


@routes.post(PREFIX + "/review/{order_id}")
@guarded("review.decide")
async def review_decision(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    status = await orders_admin.decide(request.app[SESSIONS], request.app[PROVIDERS], actor, order_uuid(request),
                                       str(form.get("kind", "")), str(form.get("decision", "")),
                                       str(form.get("reason", "")))
    return web.json_response({"status": status.value})


@routes.post(PREFIX + "/accounts/{admin_id:[0-9]{1,9}}/{action:disable|enable}")
@guarded("accounts.manage")
async def account_action(request: web.Request, actor: Actor) -> web.StreamResponse:
    active = request.match_info["action"] == "enable"
    await set_active_by_id(request.app[SESSIONS], actor, int(request.match_info["admin_id"]), active)
    return web.json_response({"active": active})


def blocked_json(entry: blocklist.Blocked) -> dict[str, Any]:
    return {"value": entry.value, "reason": entry.reason, "created_at": entry.created_at.isoformat()}


@routes.get(f"{PREFIX}/blocked")
@guarded("blocks.read")
async def blocked(request: web.Request, actor: Actor) -> web.StreamResponse:
    numbers, addresses = await blocklist.blocked(request.app[SESSIONS])
    return web.json_response({"numbers": [blocked_json(n) for n in numbers],
                              "addresses": [blocked_json(a) for a in addresses]})


@routes.post(PREFIX + "/blocked/{kind:numbers|addresses}")
@guarded("blocks.manage")
async def block(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    reason = form.get("reason")
    reason_text = str(reason) if reason is not None else None
    if request.match_info["kind"] == "numbers":
        value = await blocklist.block_number(request.app[SESSIONS], actor, str(form.get("msisdn", "")), reason_text)
    else:
        value = await blocklist.block_address(request.app[SESSIONS], actor, str(form.get("address", "")), reason_text)
    return web.json_response({"blocked": value}, status=201)


@routes.post(PREFIX + "/blocked/{kind:numbers|addresses}/remove")
@guarded("blocks.manage")
async def unblock(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    if request.match_info["kind"] == "numbers":
        await blocklist.unblock_number(request.app[SESSIONS], actor, str(form.get("msisdn", "")))
    else:
        await blocklist.unblock_address(request.app[SESSIONS], actor, str(form.get("address", "")))
    return web.json_response({"unblocked": True})


@routes.get(f"{PREFIX}/audit")
@guarded("audit.read")
async def audit_log(request: web.Request, actor: Actor) -> web.StreamResponse:
    query = request.query
    limit = entered_whole(query.get("limit", "200"), "limit", high=INTEGER_MAX)  # the query clamps it to 1-1000
    wanted = AuditFilter(actor=query.get("actor") or None, action=query.get("action") or None,
                         target=query.get("target") or None, limit=limit)
    entries = await audit.entries(request.app[SESSIONS], wanted)
    return web.json_response({"entries": [audit_json(e) for e in entries]})
