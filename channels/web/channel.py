"""The web's parts for the assembly (gateway/channel_list.py): the JSON API and the pages."""

from __future__ import annotations

from aiohttp import web

from channels.web import api, pages
from gateway.channel_parts import ChannelParts


def setup(app: web.Application) -> None:
    api.setup(app)
    pages.setup(app)


WEB = ChannelParts("web", setup)
