"""How every admin page is answered: its template with the CSRF token and the language, strict security
headers, nothing cached; and the redirect after a form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from admin import csrf, texts
from admin.keys import ADMIN_TEMPLATES
from admin.web import (
    csrf_key,
    secure,
)
from gateway.core.audit import Actor
from gateway.core.market import on_clock

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def render(request: web.Request, template: str, context: Mapping[str, Any], actor: Actor | None = None,
           status: int = 200, media_from: str | None = None, uploads_to: str | None = None) -> web.Response:
    """A page with its CSRF token, strict security headers and nothing cached. `media_from`: the origin of the
    media storage's files, for the pages that show clips, posters or photos kept there (the entries' review, a
    contest's candidates, a candidate's clip and photo pages), and only those; `uploads_to`: the storage's upload
    origin, for the pages whose script sends a clip or a photo there (and their own scripts, which no other admin
    page runs but the dashboard)."""
    is_secure = secure(request)
    cookie, fresh = csrf.cookie_of(request, is_secure)
    lang = texts.language_of(request)
    base = {"actor": actor, "csrf_token": csrf.sign(csrf_key(request), cookie), "error": None, "notice": None,
            "lang": lang, "_": texts.gettext_for(lang), "on_clock": on_clock, **texts.tables(lang)}
    response = aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status,
                                              app_key=ADMIN_TEMPLATES)
    policy = CSP if media_from is None else CSP.replace("img-src 'self' data:",
                                                          f"img-src 'self' data: {media_from}; media-src {media_from}")
    if uploads_to is not None:
        policy = policy.replace("default-src 'none';",
                                f"default-src 'none'; script-src 'self'; connect-src 'self' {uploads_to};")
    response.headers.update({"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff",
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
