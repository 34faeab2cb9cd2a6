"""How a public page is answered: in the visitor's language, with the shared context, strict security headers
and the visitor's cookies; an unexpected error as a page, not the API's JSON."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from channels.web import csrf
from channels.web.i18n import (
    Translator,
    choose_language,
    remember_language,
)
from gateway.kit.keys import MEDIA_STORAGE, PROVIDERS, SETTINGS

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CSP = ("default-src 'self'; img-src 'self' https: data: {files}; media-src 'self' {files}; style-src 'self'; "
       "script-src 'self'; connect-src 'self' {uploads}; frame-ancestors 'self'; base-uri 'none'; object-src 'none'")


def content_policy(app: web.Application) -> str:
    """The pages' policy: this site, plus the media storage's files (posters, clips) and uploads."""
    storage = app[MEDIA_STORAGE]
    return CSP.format(files=storage.files_origin, uploads=storage.upload_origin)


@dataclass(frozen=True)
class LanguageLink:
    """A link in the page's header that shows the same page in another language, named in that language."""

    lang: str
    name: str
    url: str


@dataclass(frozen=True)
class Page:
    """One request's language, and whether the visitor just chose it (then it is remembered)."""

    request: web.Request
    tr: Translator
    remember: bool


def page_for(request: web.Request, default_lang: str | None = None) -> Page:
    lang, remember = choose_language(request, default_lang)
    return Page(request, Translator(lang), remember)


def secure_cookies(request: web.Request) -> bool:
    return request.app[SETTINGS].public_base_url.startswith("https://")


def render(page: Page, template: str, context: Mapping[str, Any], status: int = 200,
           token: csrf.CsrfToken | None = None) -> web.Response:
    """A page with the shared context, security headers and the visitor's cookies."""
    tr = page.tr
    base = {"t": tr, "lang": tr.lang,
            "language_links": [LanguageLink(lang, tr.own_name(lang), str(page.request.rel_url.update_query(lang=lang)))
                               for lang in tr.others],
            "provider_label": lambda provider: tr.provider(provider, page.request.app[PROVIDERS])}
    response = aiohttp_jinja2.render_template(template, page.request, {**base, **context}, status=status)
    response.headers.update({"Content-Security-Policy": content_policy(page.request.app),
                             "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
                             "Cache-Control": "no-store"})
    if page.remember:
        remember_language(response, tr.lang, secure_cookies(page.request))
    if token is not None:
        csrf.set_cookie(response, token, secure_cookies(page.request))
    response.enable_compression()
    return response


def message_page(page: Page, status: int, title: str, body: str, back_url: str = "/") -> web.Response:
    context = {"title": title, "body": body, "back_url": back_url}
    return render(page, "error.html", context, status=status)


def html_errors(handler: Handler) -> Handler:
    """An unexpected error on a page answers with a page, not the API's JSON."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception:
            log.exception("page %s %s failed", request.method, request.path)
            page = page_for(request)
            return message_page(page, 500, page.tr("error_title"), page.tr("error_body"))

    return wrapped
