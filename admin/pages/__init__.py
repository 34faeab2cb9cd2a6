"""The admin area's pages under /admin/: server-rendered forms that work on a phone, without JavaScript (but
for a clip's or a photo's upload, which goes from the browser straight to the media storage).
One module per area; `setup` mounts them all."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from admin import money_fields, provider_words
from admin.keys import ADMIN_TEMPLATES
from admin.pages import accounts, candidate_media, candidates, contests, entries, orders, signing_in
from gateway.kit.compiled_templates import CompiledTemplates

HERE = Path(__file__).parent.parent
# The area's templates compiled once a process, whichever app renders them first: compiled code only, no app's state.
COMPILED = CompiledTemplates()


def setup(app: web.Application) -> None:
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"), app_key=ADMIN_TEMPLATES,
                         bytecode_cache=COMPILED, autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                         lstrip_blocks=True)
    money_fields.add_to(aiohttp_jinja2.get_env(app, app_key=ADMIN_TEMPLATES))
    provider_words.add_to(aiohttp_jinja2.get_env(app, app_key=ADMIN_TEMPLATES))
    # In the order the routes were declared.
    for area in (signing_in, contests, candidates, candidate_media, entries, orders, accounts):
        app.add_routes(area.routes)
    app.add_routes(money_fields.routes)
