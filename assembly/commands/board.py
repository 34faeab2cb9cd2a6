"""`gateway leaderboard rebuild`."""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from typing import TYPE_CHECKING

from assembly.commands.services import Subcommands, with_database, with_services
from assembly.settings import Settings

if TYPE_CHECKING:
    from gateway.db.engine import Sessions


def cmd_leaderboard_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    """Rebuild every contest's cached board in Redis from PostgreSQL."""
    from redis.asyncio import Redis

    from leaderboard.rebuild import rebuild_all

    async def run(sessions: Sessions) -> dict[str, int]:
        redis = Redis.from_url(settings.redis_url or "")
        try:
            return await rebuild_all(sessions, redis)
        finally:
            await redis.aclose()

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        rebuilt = with_database(settings, run)
    for slug, version in rebuilt.items():
        print(f"{slug}: rebuilt at version {version}")
    return 0


def add(sub: Subcommands) -> None:
    board_cmd = sub.add_parser("leaderboard", help="the live leaderboard").add_subparsers(
        dest="leaderboard_command", required=True)
    board_cmd.add_parser("rebuild", help="rebuild the Redis boards from PostgreSQL").set_defaults(
        func=cmd_leaderboard_rebuild)
