"""Who is calling the admin area, and what they may do: tokens from cookies (pages) or
`Authorization: Bearer` (the JSON API), the role's permission, CSRF on cookie-authenticated posts.

A page whose access token has expired is served after a silent refresh (the refresh cookie is
rotated on the way); the JSON API answers 401 and the client refreshes itself.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from admin import csrf, signin, tokens
from admin.accounts import allowed
from admin.keys import CONTEST_SETTINGS
from gateway.core.audit import Actor
from gateway.core.channel_settings import ChannelContestSettings
from gateway.core.errors import DomainError
from gateway.kit.keys import PROVIDERS, SESSIONS, SETTINGS
from gateway.kit.throttle import client_address

ACCESS_COOKIE = "ballot_admin_access"
REFRESH_COOKIE = "ballot_admin_refresh"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Guarded = Callable[[web.Request, Actor], Awaitable[web.StreamResponse]]
ACTOR_KEY = web.RequestKey("admin_actor", Actor)
FAMILY_KEY = web.RequestKey("admin_family", uuid.UUID)
NEW_TOKENS_KEY = web.RequestKey("admin_new_tokens", signin.Issued)
CLAIMS_KEY = web.RequestKey("admin_claims", tokens.AccessClaims)
BEARER_KEY = web.RequestKey("admin_bearer", bool)  # set when an `Authorization: Bearer` token signed the request in


def jwt_key(request: web.Request) -> bytes:
    return tokens.signing_key(request.app[SETTINGS].secret_key.get_secret_value())


def csrf_key(request: web.Request) -> bytes:
    return hashlib.sha256(b"admin-csrf|" + jwt_key(request)).digest()


def secure(request: web.Request) -> bool:
    settings = request.app[SETTINGS]
    return settings.is_production or settings.public_base_url.startswith("https://")


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def set_session_cookies(response: web.StreamResponse, issued: signin.Issued, is_secure: bool) -> None:
    response.set_cookie(ACCESS_COOKIE, issued.access_token, path="/", httponly=True, samesite="Strict",
                        secure=is_secure, max_age=int(tokens.ACCESS_TTL.total_seconds()))
    response.set_cookie(REFRESH_COOKIE, issued.refresh_token, path="/", httponly=True, samesite="Strict",
                        secure=is_secure, max_age=int(tokens.REFRESH_TTL.total_seconds()))


def clear_session_cookies(response: web.StreamResponse) -> None:
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        response.del_cookie(name, path="/")


async def identify(request: web.Request, *, refresh_cookie: bool = True) -> Actor | None:
    """The actor of a valid access token (header first, then cookie), refreshing a page's expired one."""
    address = client_address(request)
    sessions = request.app[SESSIONS]
    header = request.headers.get("Authorization", "")
    bearer = header[7:].strip() if header[:7].lower() == "bearer " else None
    token = bearer or request.cookies.get(ACCESS_COOKIE)
    if token:
        try:
            claims = tokens.decode_access(jwt_key(request), token)
            actor = await signin.authenticate(sessions, claims, address)
            request[FAMILY_KEY] = claims.family
            request[CLAIMS_KEY] = claims
            request[BEARER_KEY] = bearer is not None
            return actor
        except (tokens.InvalidToken, signin.SignInRefused):
            if bearer is not None:
                return None
    refresh = request.cookies.get(REFRESH_COOKIE)
    if bearer is None and refresh and refresh_cookie and not is_api(request):
        try:
            issued = await signin.refresh(sessions, jwt_key(request), refresh, address)
        except signin.SignInRefused:
            return None
        claims = tokens.decode_access(jwt_key(request), issued.access_token)
        request[NEW_TOKENS_KEY] = issued
        request[FAMILY_KEY] = claims.family
        request[CLAIMS_KEY] = claims
        return issued.actor
    return None


def forbidden(request: web.Request, message: str) -> web.Response:
    if is_api(request):
        return web.json_response({"error": {"code": "forbidden", "message": message}}, status=403)
    return web.Response(text=f"403 Forbidden: {message}", status=403, content_type="text/plain")


async def form_of(request: web.Request) -> Mapping[str, Any]:
    """The posted fields: JSON object for the API, url-encoded form for pages."""
    if is_api(request):
        if request.content_type.lower() != "application/json":
            raise web.HTTPUnsupportedMediaType(text="Send the body as application/json.")
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="The body is not JSON.") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="The body must be a JSON object.")
        return body
    form: MultiDictProxy[Any] = await request.post()
    return {key: (form.getall(key) if len(form.getall(key)) > 1 else form[key]) for key in form}


def guarded(permission: str) -> Callable[[Guarded], Handler]:
    """Sign-in required; the role must hold `permission`; a cookie-authenticated post must carry CSRF."""

    def wrap(handler: Guarded) -> Handler:
        @functools.wraps(handler)
        async def wrapped(request: web.Request) -> web.StreamResponse:
            actor = await identify(request)
            if actor is None:
                if is_api(request):
                    return web.json_response({"error": {"code": "unauthorized", "message": "Sign in first."}},
                                             status=401, headers={"WWW-Authenticate": "Bearer"})
                raise web.HTTPSeeOther("/admin/signin")
            request[ACTOR_KEY] = actor
            # Only a Bearer token that signed the request in makes it cookie-free (no CSRF to fear); any
            # other Authorization header (Basic, a bad Bearer beside good cookies) proves nothing.
            if request.method not in ("GET", "HEAD") and not request.get(BEARER_KEY, False):
                form = await form_of(request)
                if not csrf.verify(request, form.get(csrf.FIELD), csrf_key(request), secure(request)):
                    return forbidden(request, "The form expired or did not come from this site; reload it.")
            if not allowed(actor.role, permission):
                return forbidden(request, f"The {actor.role} role may not do this.")
            try:
                response = await handler(request, actor)
            except DomainError as exc:
                if is_api(request):
                    raise
                response = web.Response(text=f"{exc.status} {exc.message}", status=exc.status,
                                        content_type="text/plain")  # a person reads it: words, not JSON
            issued = request.get(NEW_TOKENS_KEY)
            if issued is not None and not response.prepared:  # a stream sets them itself, before its headers go
                set_session_cookies(response, issued, secure(request))
            return response

        return wrapped

    return wrap


def provider_names(request: web.Request) -> tuple[str, ...]:
    """Every provider the service knows, among which a contest's are chosen (the admin area imports none)."""
    return request.app[PROVIDERS].names()


def contest_settings(request: web.Request) -> tuple[ChannelContestSettings, ...]:
    """The channels' own settings of a contest (their fields in the contest form and API), as the app holds them."""
    return request.app[CONTEST_SETTINGS]
