"""CSRF for the admin area's forms: a signed double-submit token, like the public vote form's
(channels/web/csrf.py), with its own cookie and label so neither token passes for the other, and
SameSite=Strict. A request that an `Authorization: Bearer` token signed in needs no token (a browser never
adds that header cross-site); any other Authorization header leaves a cookie-signed request needing one."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from aiohttp import web

COOKIE = "ballot_admin_csrf"
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def cookie_name(secure: bool) -> str:
    return f"__Host-{COOKIE}" if secure else COOKIE


def sign(key: bytes, cookie: str) -> str:
    return hmac.new(key, b"ballot-admin-csrf:" + cookie.encode("utf-8", "replace"), hashlib.sha256).hexdigest()


def cookie_of(request: web.Request, secure: bool) -> tuple[str, bool]:
    """The visitor's CSRF cookie, or a fresh one (True: set it on the response)."""
    value = request.cookies.get(cookie_name(secure), "")
    if 32 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum():
        return value, False
    return secrets.token_urlsafe(32), True


def set_cookie(response: web.StreamResponse, value: str, secure: bool) -> None:
    response.set_cookie(cookie_name(secure), value, path="/", httponly=True, samesite="Strict", secure=secure)


def verify(request: web.Request, posted: object, key: bytes, secure: bool) -> bool:
    value = request.cookies.get(cookie_name(secure), "")
    given = posted if isinstance(posted, str) and posted else request.headers.get(HEADER, "")
    if not value or not given:
        return False
    return hmac.compare_digest(sign(key, value).encode(), given.encode("utf-8", "replace"))
