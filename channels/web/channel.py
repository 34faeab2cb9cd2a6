"""The web's parts for the assembly (gateway/channel_list.py): the JSON API, the pages, and the public checks of
the count (a voter's order, the results key, the signed sheets)."""

from __future__ import annotations

from aiohttp import web

from channels.web import api, pages, vote_check
from gateway.channel_parts import ChannelParts


def setup(app: web.Application) -> None:
    api.setup(app)
    pages.setup(app)
    vote_check.setup(app)  # "my vote counted", the results key, the signed sheets


WEB = ChannelParts("web", setup)
