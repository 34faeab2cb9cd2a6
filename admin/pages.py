"""The admin area's pages under /admin/: server-rendered forms that work on a phone, without JavaScript."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from admin import csrf, photos, signin, texts, tokens, totp
from admin.accounts import allowed, list_admins, set_active_by_id
from admin.web import (
    FAMILY_KEY,
    clear_session_cookies,
    csrf_key,
    form_of,
    guarded,
    jwt_key,
    secure,
    set_session_cookies,
    upload_gate,
)
from gateway.core import audit, blocklist, contests_admin, orders_admin
from gateway.core.audit import Actor, AuditFilter
from gateway.core.contest_drafts import FRAUD_FIELD, KNOWN_PROVIDERS, BoardVisibility, board_visibility, parse_contest
from gateway.core.errors import DomainError
from gateway.core.fraud import FraudRules
from gateway.core.orders_admin import OrderFilter
from gateway.db.models import Channel, Contest, OrderStatus
from gateway.keys import ADMIN_TEMPLATES, PHOTO_DECODER, PROVIDERS, REDIS, SESSIONS, SETTINGS, UPLOAD_GATE
from gateway.throttle import client_address, hit

HERE = Path(__file__).parent
routes = web.RouteTableDef()
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SIGNIN_PER_ADDRESS = 20  # sign-in attempts per address per 15 minutes
SIGNIN_WINDOW = 900
TRANSITIONS = {"draft": ("open",), "open": ("pause", "close"), "paused": ("open", "close"), "closed": ()}


def render(request: web.Request, template: str, context: Mapping[str, Any], actor: Actor | None = None,
           status: int = 200) -> web.Response:
    """A page with its CSRF token, strict security headers and nothing cached."""
    is_secure = secure(request)
    cookie, fresh = csrf.cookie_of(request, is_secure)
    lang = texts.language_of(request)
    base = {"actor": actor, "csrf_token": csrf.sign(csrf_key(request), cookie), "error": None, "notice": None,
            "lang": lang, "_": texts.gettext_for(lang), **texts.tables(lang)}
    response = aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status,
                                              app_key=ADMIN_TEMPLATES)
    response.headers.update({"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                             "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
                             "X-Frame-Options": "DENY"})
    if fresh:
        csrf.set_cookie(response, cookie, is_secure)
    if request.query.get("lang") == lang:
        response.set_cookie(texts.LANG_COOKIE, lang, path="/admin", samesite="Strict", secure=is_secure,
                            httponly=True, max_age=365 * 86400)
    return response


def see_other(url: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(url)


@routes.get("/admin")
@routes.get("/admin/")
async def home(request: web.Request) -> web.StreamResponse:
    raise see_other("/admin/contests")


@routes.get("/admin/signin")
async def signin_page(request: web.Request) -> web.StreamResponse:
    return render(request, "signin.html", {"email": ""})


@routes.post("/admin/signin")
async def signin_post(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    email = str(form.get("email", ""))[:254]
    if not csrf.verify(request, form.get(csrf.FIELD), csrf_key(request), secure(request)):
        return render(request, "signin.html", {"email": email, "error": "The form expired; try again."}, status=403)
    address = client_address(request)
    if not await hit(request.app[REDIS], f"admin-signin:{address}", SIGNIN_PER_ADDRESS, SIGNIN_WINDOW):
        return too_many(request, email)
    try:
        result = await signin.sign_in(request.app[SESSIONS], request.app[REDIS], jwt_key(request), email,
                                      str(form.get("password", "")), str(form.get("code", "")), address)
    except DomainError as exc:
        return render(request, "signin.html", {"email": email, "error": exc.message}, status=exc.status)
    if isinstance(result, signin.NeedsEnrolment):
        return enrol_page(request, result.ticket, result.totp_uri)
    response = see_other("/admin/contests")
    set_session_cookies(response, result, secure(request))
    raise response


def too_many(request: web.Request, email: str) -> web.Response:
    """Sign-in and first-code attempts share the address's limit."""
    return render(request, "signin.html", {"email": email, "error": "Too many attempts from here; wait a while."},
                  status=429)


def enrol_page(request: web.Request, ticket: str, uri: str, error: str | None = None) -> web.Response:
    """The QR code and the form for a first code; after a wrong code, the same ticket again (never a
    later expiry: only a right password starts a new one)."""
    return render(request, "enrol.html", {"qr_svg": totp.svg_qr(uri), "totp_uri": uri, "ticket": ticket,
                                          "error": error}, status=401 if error else 200)


@routes.post("/admin/enrol")
async def enrol_post(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    if not csrf.verify(request, form.get(csrf.FIELD), csrf_key(request), secure(request)):
        return render(request, "signin.html", {"email": "", "error": "The form expired; sign in again."}, status=403)
    address = client_address(request)
    if not await hit(request.app[REDIS], f"admin-signin:{address}", SIGNIN_PER_ADDRESS, SIGNIN_WINDOW):
        return too_many(request, "")
    signed = str(form.get("ticket", ""))
    try:
        ticket = tokens.decode_enrol_ticket(jwt_key(request), signed)
    except tokens.InvalidToken:
        return render(request, "signin.html", {"email": "", "error": "That took too long; sign in again."}, status=401)
    try:
        issued = await signin.enrol(request.app[SESSIONS], request.app[REDIS], jwt_key(request), ticket,
                                    str(form.get("code", "")), address)
    except signin.SignInRefused as exc:
        uri = await signin.pending_totp_uri(request.app[SESSIONS], jwt_key(request), ticket)
        if uri is None:
            return render(request, "signin.html", {"email": "", "error": exc.message}, status=401)
        return enrol_page(request, signed, uri, exc.message)
    except DomainError as exc:
        return render(request, "signin.html", {"email": "", "error": exc.message}, status=exc.status)
    response = see_other("/admin/contests")
    set_session_cookies(response, issued, secure(request))
    raise response


@routes.post("/admin/signout")
@guarded("signed_in")
async def signout_post(request: web.Request, actor: Actor) -> web.StreamResponse:
    await signin.sign_out(request.app[SESSIONS], actor, request[FAMILY_KEY])
    response = see_other("/admin/signin")
    clear_session_cookies(response)
    raise response


def contest_form_values(contest: Contest | None) -> dict[str, Any]:
    """The form's fields as text, from a contest (or a new one's defaults)."""
    if contest is None:
        return {"name": "", "slug": "", "price_per_vote": 100, "currency": "XAF", "max_votes_per_order": 100,
                "opens_at": "", "closes_at": "", "providers": ["mtn", "orange"], "ussd_service_codes": "",
                "sms_short_code": "", "sms_keyword": "", "board": "live", "board_frozen_at": "",
                "default_language": "fr", "stars_per_vote": "", "telegram_mobile_money": False,
                **fraud_fields(FraudRules())}
    board = board_visibility(contest.show_counts, contest.board_frozen_at, contest.board_sealed)
    frozen = contest.board_frozen_at.strftime("%Y-%m-%dT%H:%M") if contest.board_frozen_at else ""
    return {"name": contest.name, "slug": contest.slug, "price_per_vote": contest.price_per_vote,
            "currency": contest.currency, "max_votes_per_order": contest.max_votes_per_order,
            "opens_at": contest.opens_at.strftime("%Y-%m-%dT%H:%M"),
            "closes_at": contest.closes_at.strftime("%Y-%m-%dT%H:%M"), "providers": list(contest.providers),
            "ussd_service_codes": ", ".join(contest.ussd_service_codes),
            "sms_short_code": contest.sms_short_code or "", "sms_keyword": contest.sms_keyword or "",
            "board": board.value, "board_frozen_at": frozen, "default_language": contest.default_language,
            "stars_per_vote": contest.stars_per_vote or "", "telegram_mobile_money": contest.telegram_mobile_money,
            **fraud_fields(FraudRules.of(contest.fraud_rules))}


def fraud_fields(rules: FraudRules) -> dict[str, int]:
    return {f"{FRAUD_FIELD}{name}": value for name, value in rules.stored().items()}


def form_page(request: web.Request, actor: Actor, heading: str, action: str, values: Mapping[str, Any],
              error: str | None = None, status: int = 200) -> web.Response:
    providers = values.get("providers") or []
    values = {**contest_form_values(None), **values,
              "providers": providers if isinstance(providers, list) else [providers]}
    return render(request, "contest_form.html", {
        "heading": heading, "action": action, "form": values, "known_providers": KNOWN_PROVIDERS,
        "boards": [b.value for b in BoardVisibility], "fraud_names": FraudRules.names(), "fraud_field": FRAUD_FIELD,
        "error": error}, actor, status)


@routes.get("/admin/contests")
@guarded("contests.read")
async def contests_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    contests = await contests_admin.list_contests(request.app[SESSIONS], actor)
    return render(request, "contests.html", {"contests": contests, "can_write": allowed(actor.role, "contests.write")},
                  actor)


@routes.get("/admin/contests/new")
@guarded("contests.write")
async def new_contest_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    return form_page(request, actor, "New contest", "/admin/contests/new", contest_form_values(None))


@routes.post("/admin/contests/new")
@guarded("contests.write")
async def new_contest_post(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    try:
        contest = await contests_admin.create_contest(request.app[SESSIONS], actor, parse_contest(form))
    except DomainError as exc:
        return form_page(request, actor, "New contest", "/admin/contests/new", form, exc.message, exc.status)
    raise see_other(f"/admin/contests/{contest.id}")


def contest_id(request: web.Request) -> int:
    try:
        return int(request.match_info["contest_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


@routes.get("/admin/contests/{contest_id:[0-9]{1,9}}")
@guarded("contests.read")
async def contest_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    return await show_contest(request, actor, contest_id(request))


async def show_contest(request: web.Request, actor: Actor, cid: int, error: str | None = None,
                       notice: str | None = None, status: int = 200) -> web.Response:
    detail = await contests_admin.contest_detail(request.app[SESSIONS], actor, cid)
    contest = detail.contest
    return render(request, "contest.html", {
        "contest": contest, "candidates": detail.candidates, "votes": detail.votes,
        "board": board_visibility(contest.show_counts, contest.board_frozen_at, contest.board_sealed).value,
        "actions": TRANSITIONS[contest.status.value], "can_write": allowed(actor.role, "contests.write"),
        "error": error, "notice": notice}, actor, status)


@routes.get("/admin/contests/{contest_id:[0-9]{1,9}}/edit")
@guarded("contests.write")
async def edit_contest_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    cid = contest_id(request)
    detail = await contests_admin.contest_detail(request.app[SESSIONS], actor, cid)
    return form_page(request, actor, f"Edit {detail.contest.name}", f"/admin/contests/{cid}/edit",
                     contest_form_values(detail.contest))


@routes.post("/admin/contests/{contest_id:[0-9]{1,9}}/edit")
@guarded("contests.write")
async def edit_contest_post(request: web.Request, actor: Actor) -> web.StreamResponse:
    cid = contest_id(request)
    form = await form_of(request)
    try:
        await contests_admin.update_contest(request.app[SESSIONS], actor, cid, parse_contest(form))
    except DomainError as exc:
        if exc.status == 404:
            raise
        return form_page(request, actor, "Edit contest", f"/admin/contests/{cid}/edit", form, exc.message, exc.status)
    raise see_other(f"/admin/contests/{cid}")


@routes.post("/admin/contests/{contest_id:[0-9]{1,9}}/{action:open|pause|close}")
@guarded("contests.write")
async def contest_action(request: web.Request, actor: Actor) -> web.StreamResponse:
    cid = contest_id(request)
    try:
        await contests_admin.change_status(request.app[SESSIONS], actor, cid, request.match_info["action"])
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await show_contest(request, actor, cid, error=exc.message, status=exc.status)
    raise see_other(f"/admin/contests/{cid}")


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


@routes.post("/admin/candidates/{candidate_id:[0-9]{1,9}}/photo", name="admin_candidate_photo")
@guarded("contests.write")
async def candidate_photo(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    upload = form.get("photo")
    data = b""
    if isinstance(upload, web.FileField):
        with upload.file:
            data = upload.file.read(photos.MAX_BYTES + 1)
    candidate = await contests_admin.candidate_of(request.app[SESSIONS], actor,
                                                  int(request.match_info["candidate_id"]))  # scope first
    try:
        jpeg = await photos.reencode_in_turn(request.app[PHOTO_DECODER], data)
    except DomainError as exc:
        return await show_contest(request, actor, candidate.contest_id, error=exc.message, status=exc.status)
    await photos.attach(request.app[SESSIONS], actor, candidate.id, request.app[SETTINGS].gateway_data_dir, jpeg)
    raise see_other(f"/admin/contests/{candidate.contest_id}")


@routes.get("/photos/{name}")
async def photo(request: web.Request) -> web.StreamResponse:
    """A stored candidate photo: a JPEG we wrote ourselves, served so no browser takes it for anything else."""
    path = photos.stored_path(request.app[SETTINGS].gateway_data_dir, request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={
        "Content-Type": "image/jpeg", "X-Content-Type-Options": "nosniff", "Content-Disposition": "inline",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "public, max-age=31536000, immutable", "Cross-Origin-Resource-Policy": "same-origin"})


def order_filter(query: Mapping[str, str]) -> OrderFilter:
    """The search form's fields (empty ones mean any)."""
    def moment(name: str) -> datetime | None:
        text = query.get(name) or ""
        try:
            value = datetime.fromisoformat(text) if text else None
        except ValueError:
            raise DomainError(f"{name} must be a date and time.", code="invalid_field", field=name) from None
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    contest = query.get("contest_id") or ""
    return OrderFilter(msisdn=query.get("msisdn") or None, reference=query.get("reference") or None,
                       status=query.get("status") or None, candidate=query.get("candidate") or None,
                       channel=query.get("channel") or None, provider=query.get("provider") or None,
                       contest_id=int(contest) if contest.isdigit() and len(contest) < 10 else None,
                       since=moment("since"), until=moment("until"))


@routes.get("/admin/orders")
@guarded("orders.read")
async def orders_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    context: dict[str, Any] = {"q": {}, "rows": [], "statuses": [s.value for s in OrderStatus],
                               "channels": [c.value for c in Channel], "since": request.query.get("since", ""),
                               "until": request.query.get("until", "")}
    try:
        wanted = order_filter(request.query)
        context.update(q=wanted, rows=await orders_admin.search_orders(request.app[SESSIONS], actor, wanted))
    except DomainError as exc:
        return render(request, "orders.html", {**context, "error": exc.message}, actor, exc.status)
    return render(request, "orders.html", context, actor)


def order_id_of(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["order_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


@routes.get("/admin/orders/{order_id}")
@guarded("orders.read")
async def order_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    detail = await orders_admin.order_detail(request.app[SESSIONS], actor, order_id_of(request))
    return render(request, "order.html", {"detail": detail, "can_resend": allowed(actor.role, "orders.resend"),
                                          "can_refund": allowed(actor.role, "orders.refund")}, actor)


@routes.post("/admin/orders/{order_id}/resend")
@guarded("orders.resend")
async def resend_receipt(request: web.Request, actor: Actor) -> web.StreamResponse:
    order_id = order_id_of(request)
    await orders_admin.resend_receipt(request.app[SESSIONS], actor, order_id)
    raise see_other(f"/admin/orders/{order_id}")


@routes.post("/admin/orders/{order_id}/refund")
@guarded("orders.refund")
async def refund_order(request: web.Request, actor: Actor) -> web.StreamResponse:
    order_id = order_id_of(request)
    form = await form_of(request)
    await orders_admin.refund_order(request.app[SESSIONS], request.app[PROVIDERS], actor, order_id,
                                    str(form.get("reason", "")))
    raise see_other(f"/admin/orders/{order_id}")


@routes.get("/admin/review")
@guarded("review.read")
async def review_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    items = await orders_admin.waiting_reviews(request.app[SESSIONS])
    return render(request, "review.html", {"items": items, "decisions": orders_admin.DECISIONS,
                                           "can_decide": allowed(actor.role, "review.decide")}, actor)


@routes.post("/admin/review/{order_id}")
@guarded("review.decide")
async def review_decision(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    await orders_admin.decide(request.app[SESSIONS], request.app[PROVIDERS], actor, order_id_of(request),
                              str(form.get("kind", "")), str(form.get("decision", "")), str(form.get("reason", "")))
    raise see_other("/admin/review")


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


def setup(app: web.Application) -> None:
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"), app_key=ADMIN_TEMPLATES,
                         autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    app.add_routes(routes)
    app[UPLOAD_GATE] = upload_gate
    app[PHOTO_DECODER] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="photo-decoder")
    app.on_cleanup.append(stop_photo_decoder)


async def stop_photo_decoder(app: web.Application) -> None:
    app[PHOTO_DECODER].shutdown(wait=False, cancel_futures=True)
