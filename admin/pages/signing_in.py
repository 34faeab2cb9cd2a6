"""Signing in (password, then the authenticator's code), enrolling an authenticator, signing out."""

from __future__ import annotations

from aiohttp import web

from admin import csrf, signin, tokens, totp
from admin.pages.rendering import render, see_other
from admin.totp_keys import TOTP_KEYS
from admin.web import (
    FAMILY_KEY,
    clear_session_cookies,
    csrf_key,
    form_of,
    guarded,
    identify,
    jwt_key,
    secure,
    set_session_cookies,
)
from gateway.core.audit import Actor
from gateway.core.errors import DomainError
from gateway.kit.keys import REDIS, SESSIONS
from gateway.kit.throttle import client_address, hit

routes = web.RouteTableDef()

SIGNIN_PER_ADDRESS = 20  # sign-in attempts per address per 15 minutes
SIGNIN_WINDOW = 900


@routes.get("/admin")
@routes.get("/admin/")
async def home(request: web.Request) -> web.StreamResponse:
    # No silent refresh here: the redirect would drop the rotated cookies (the page it leads to refreshes them).
    actor = await identify(request, refresh_cookie=False)
    raise see_other(landing(actor.role) if actor is not None else "/admin/contests")


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
        result = await signin.sign_in(request.app[SESSIONS], request.app[REDIS], jwt_key(request),
                                      request.app[TOTP_KEYS], email, str(form.get("password", "")),
                                      str(form.get("code", "")), address)
    except DomainError as exc:
        return render(request, "signin.html", {"email": email, "error": exc.message}, status=exc.status)
    if isinstance(result, signin.NeedsEnrolment):
        return enrol_page(request, result.ticket, result.totp_uri)
    response = see_other(landing(result.actor.role))
    set_session_cookies(response, result, secure(request))
    raise response


def landing(role: str) -> str:
    """Where a sign-in leads: a juror to their jury (the only page of theirs), everyone else to the contests."""
    return "/admin/jury" if role == "jury" else "/admin/contests"


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
        issued = await signin.enrol(request.app[SESSIONS], request.app[REDIS], jwt_key(request),
                                    request.app[TOTP_KEYS], ticket, str(form.get("code", "")), address)
    except signin.SignInRefused as exc:
        uri = await signin.pending_totp_uri(request.app[SESSIONS], jwt_key(request), request.app[TOTP_KEYS], ticket)
        if uri is None:
            return render(request, "signin.html", {"email": "", "error": exc.message}, status=401)
        return enrol_page(request, signed, uri, exc.message)
    except DomainError as exc:
        return render(request, "signin.html", {"email": "", "error": exc.message}, status=exc.status)
    response = see_other(landing(issued.actor.role))
    set_session_cookies(response, issued, secure(request))
    raise response


@routes.post("/admin/signout")
@guarded("signed_in")
async def signout_post(request: web.Request, actor: Actor) -> web.StreamResponse:
    await signin.sign_out(request.app[SESSIONS], actor, request[FAMILY_KEY])
    response = see_other("/admin/signin")
    clear_session_cookies(response)
    raise response
