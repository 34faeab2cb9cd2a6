"""`gateway media`: the media server's process (media.upload_server), started by `gateway run`."""

from __future__ import annotations

import argparse
from contextlib import ExitStack

from assembly.commands.services import Subcommands, with_services
from assembly.resources.media import local_storage, media_address
from assembly.settings import Settings


def cmd_media(settings: Settings, args: argparse.Namespace) -> int:
    """Receive uploads and serve files; tell the service of each finished upload (its processing follows)."""
    import asyncio

    from aiohttp import web

    from media.upload_server import served_media_app

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        app = served_media_app(local_storage(settings), settings.database_url or "")
        host, port = media_address(settings)
        web.run_app(app, host=args.host or host, port=args.port or port, print=None, access_log=None,
                    loop=asyncio.new_event_loop())
    return 0


def add(sub: Subcommands) -> None:
    media_cmd = sub.add_parser("media", help="the media server: candidates' uploads in, their clips out")
    media_cmd.add_argument("--host")
    media_cmd.add_argument("--port", type=int)
    media_cmd.set_defaults(func=cmd_media, serves=True)
