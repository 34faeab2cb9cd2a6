"""`gateway media`: the media server's process (media.upload_server), started by `gateway run`."""

from __future__ import annotations

import argparse
import uuid
from contextlib import ExitStack

from assembly.commands.services import Subcommands, with_services
from assembly.media import local_storage, media_address
from assembly.settings import Settings


def cmd_media(settings: Settings, args: argparse.Namespace) -> int:
    """Receive uploads and serve files; tell the service of each finished upload (its processing follows)."""
    import asyncio
    from collections.abc import AsyncIterator

    from aiohttp import web

    from gateway.core.media.uploads import note_received, served_publicly
    from gateway.db.engine import create_engine, session_factory
    from media.upload_server import media_app, remembered

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        engine = create_engine(settings.database_url or "", pool_size=2)
        sessions = session_factory(engine)

        async def on_complete(upload_id: str, size: int) -> None:
            await note_received(sessions, uuid.UUID(upload_id), size)

        async def public(upload_id: str) -> bool:
            return await served_publicly(sessions, uuid.UUID(upload_id))

        async def engine_ctx(app: web.Application) -> AsyncIterator[None]:
            yield
            await engine.dispose()

        app = media_app(local_storage(settings), on_complete, remembered(public))
        app.cleanup_ctx.append(engine_ctx)
        host, port = media_address(settings)
        web.run_app(app, host=args.host or host, port=args.port or port, print=None, access_log=None,
                    loop=asyncio.new_event_loop())
    return 0


def add(sub: Subcommands) -> None:
    media_cmd = sub.add_parser("media", help="the media server: candidates' uploads in, their clips out")
    media_cmd.add_argument("--host")
    media_cmd.add_argument("--port", type=int)
    media_cmd.set_defaults(func=cmd_media, serves=True)
