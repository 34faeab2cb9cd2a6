"""The web's parts for the assembly (assembly/channel_list.py): the JSON API, the pages, and the public checks of
the count (a voter's order, the results key, the signed sheets), each candidate's page, and the
broadcast overlay."""

from __future__ import annotations

from aiohttp import web

from channels.web import (
    api,
    candidate_pages,
    entry_api,
    entry_pages,
    free_votes,
    overlay,
    pages,
    round_results,
    vote_check,
)
from channels.web.settings import WebSettings
from gateway.kit.channel_parts import ChannelParts


def setup(app: web.Application) -> None:
    api.setup(app)
    pages.setup(app)
    app.add_routes(candidate_pages.routes)  # a candidate's page and its short link
    vote_check.setup(app)  # "my vote counted", the results key, the signed sheets
    round_results.setup(app)  # each decided round's signed sheet
    app.add_routes(entry_api.routes)  # candidates enter a video contest (their files go to the media storage)
    app.add_routes(free_votes.routes)  # a number proven by a texted code takes its free votes
    app.add_routes(entry_pages.routes)
    app.add_routes(overlay.routes)  # the board as a broadcast overlay (OBS, a TV graphics system)


WEB = ChannelParts[WebSettings]("web", setup)
