"""CSRF protection for the vote form: a signed double-submit token.

Each visitor gets a random value in an HttpOnly cookie; the form carries HMAC(secret_key, value).
A forged cross-site post cannot read the cookie to copy it, and since the token is signed with our
secret, a cookie planted by a sibling subdomain or over plain HTTP does not let anyone compute a
matching token either. No server-side session store is needed, so any web process can check it.
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
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
COOKIE_AGE = 30 * 86400  # an open tab keeps a working form for a month
VALUE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


@dataclass(frozen=True)
class CsrfToken:
    cookie: str
    token: str
    fresh: bool  # the cookie is new and must be set on the response


def sign(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), b"ballot-csrf:" + value.encode(), hashlib.sha256).hexdigest()


def issue(request: web.Request, secret: str) -> CsrfToken:
    """The visitor's token for a form, reusing their cookie when it has the right shape."""
    value = request.cookies.get(COOKIE, "")
    fresh = not VALUE_SHAPE.match(value)
    if fresh:
        value = secrets.token_urlsafe(32)
    return CsrfToken(value, sign(secret, value), fresh)


def set_cookie(response: web.StreamResponse, token: CsrfToken, secure: bool) -> None:
    if token.fresh:
        response.set_cookie(COOKIE, token.cookie, max_age=COOKIE_AGE, path="/", httponly=True, samesite="Lax",
                            secure=secure)


def verify(request: web.Request, form: Mapping[str, str], secret: str) -> bool:
    """True when the posted token (form field or header) is the signature of the visitor's cookie."""
    value = request.cookies.get(COOKIE, "")
    given = form.get(FIELD) or request.headers.get(HEADER, "")
    if not VALUE_SHAPE.match(value) or not given:
        return False
    # As bytes: compare_digest refuses non-ASCII str, and a forged token may hold anything.
    return hmac.compare_digest(sign(secret, value).encode(), given.encode("utf-8", "replace"))
