"""CSRF protection for the vote form: a signed double-submit token on a cookie only we can issue.

Each visitor gets an HttpOnly cookie `random.MAC(secret_key, random)`; the form carries
HMAC(secret_key, cookie). A forged cross-site post cannot read the cookie to copy it. A cookie
planted with a value of someone else's choosing (by a sibling subdomain, or over plain HTTP) fails
its MAC: the page replaces it with a fresh one and no token verifies against it. Over HTTPS the
cookie is named `__Host-…`, which browsers take only from this very host over a secure connection,
so nobody can plant even a cookie we issued to them. No server-side session store is needed, so any
web process can check it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

COOKIE = "ballot_csrf"
SECURE_COOKIE = f"__Host-{COOKIE}"  # browsers refuse this name from another host or without HTTPS
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
COOKIE_AGE = 30 * 86400  # an open tab keeps a working form for a month
RANDOM_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


@dataclass(frozen=True)
class CsrfToken:
    cookie: str
    token: str
    fresh: bool  # the cookie is new and must be set on the response


def cookie_name(secure: bool) -> str:
    return SECURE_COOKIE if secure else COOKIE


def _mac(secret: str, label: bytes, value: str) -> str:
    return hmac.new(secret.encode(), label + value.encode(), hashlib.sha256).hexdigest()


def sign(secret: str, value: str) -> str:
    """The form's token for a cookie value."""
    return _mac(secret, b"ballot-csrf:", value)


def new_cookie(secret: str) -> str:
    random = secrets.token_urlsafe(32)
    return f"{random}.{_mac(secret, b'ballot-csrf-cookie:', random)}"


def issued_here(secret: str, value: str) -> bool:
    """Whether a cookie value is one we made: its MAC checks out (a planted value's cannot)."""
    random, dot, tag = value.partition(".")
    if not dot or not RANDOM_SHAPE.match(random):
        return False
    # As bytes: compare_digest refuses non-ASCII str, and a planted cookie may hold anything.
    return hmac.compare_digest(_mac(secret, b"ballot-csrf-cookie:", random).encode(), tag.encode("utf-8", "replace"))


def issue(request: web.Request, secret: str, *, secure: bool) -> CsrfToken:
    """The visitor's token for a form: their cookie if we issued it, else a fresh cookie."""
    value = request.cookies.get(cookie_name(secure), "")
    fresh = not issued_here(secret, value)
    if fresh:
        value = new_cookie(secret)
    return CsrfToken(value, sign(secret, value), fresh)


def browser_of(request: web.Request, secret: str, *, secure: bool) -> str | None:
    """The visitor's browser, as the fraud rules count voters: a digest of the cookie we issued it (never the cookie
    itself, which signs its forms), so that one browser paying from many numbers is one voter however its address
    is shared. None for a cookie we did not issue (a vote from it is refused anyway)."""
    value = request.cookies.get(cookie_name(secure), "")
    if not issued_here(secret, value):
        return None
    return "browser:" + hashlib.sha256(b"ballot-browser:" + value.encode()).hexdigest()[:24]


def set_cookie(response: web.StreamResponse, token: CsrfToken, secure: bool) -> None:
    if token.fresh:
        response.set_cookie(cookie_name(secure), token.cookie, max_age=COOKIE_AGE, path="/", httponly=True,
                            samesite="Lax", secure=secure)


def verify(request: web.Request, form: Mapping[str, object], secret: str, *, secure: bool) -> bool:
    """True when the visitor's cookie is one we issued and the posted token (form field or header) is its signature.

    A multipart post may carry a file or raw bytes in the token's field: that is no token of ours."""
    value = request.cookies.get(cookie_name(secure), "")
    posted = form.get(FIELD)
    if posted is not None and not isinstance(posted, str):
        return False
    given = posted or request.headers.get(HEADER, "")
    if not given or not issued_here(secret, value):
        return False
    return hmac.compare_digest(sign(secret, value).encode(), given.encode("utf-8", "replace"))
