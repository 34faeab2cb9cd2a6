"""`gateway leaderboard rebuild`, and `gateway fanout` (the board's fan-out server on this machine)."""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from typing import TYPE_CHECKING

from assembly.commands.services import Subcommands, with_database, with_services
from assembly.settings import ConfigError, Settings

if TYPE_CHECKING:
    from gateway.db.engine import Sessions


def cmd_leaderboard_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    """Rebuild every contest's cached board in Redis from PostgreSQL."""
    from gateway.jobs.redis_connections import async_client
    from leaderboard.rebuild import rebuild_all

    async def run(sessions: Sessions) -> dict[str, int]:
        redis = async_client(settings.redis_url or "")
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


def cmd_fanout(settings: Settings, args: argparse.Namespace) -> int:
    """nginx with Nchan in the foreground: viewers' streams at --listen, the rest proxied to the service."""
    from assembly.machine import fanout_server
    from gateway.kit.secret_rules import secret_problem
    from leaderboard.publish_secret import MissingPublishSecret, publish_secret

    publish = args.publish or fanout_server.DEFAULT_PUBLISH
    if not args.publish and settings.board_fanout_url:
        host, port = fanout_server.publish_address(settings.board_fanout_url)
        publish = f"{host}:{port}"
    try:
        secret = publish_secret(settings)  # the web processes' own: in development, the data folder's
    except MissingPublishSecret as exc:
        raise ConfigError(f"refusing to start in production: {exc}") from exc
    # The rule production's web processes are held to (a fan-out machine may have no BOARD_FANOUT_URL to be
    # checked by): the server takes every board's frames on this secret alone.
    if settings.is_production and (problem := secret_problem("BOARD_FANOUT_SECRET", secret)):
        raise ConfigError(f"refusing to start in production: {problem}")
    server = fanout_server.FanoutServer(
        listen=args.listen, publish_listen=publish,
        service_url=f"http://{settings.gateway_host}:{settings.gateway_port}", workers=args.workers,
        max_connections=args.connections, publish_secret=secret)
    if not settings.board_fanout_url:
        print(f"Set BOARD_FANOUT_URL={server.publish_url} for the service to publish its boards here.")
    fanout_server.exec_nginx(server, settings.gateway_data_dir / "fanout")
    return 0  # not reached: this process is nginx now


def add(sub: Subcommands) -> None:
    board_cmd = sub.add_parser("leaderboard", help="the live leaderboard").add_subparsers(
        dest="leaderboard_command", required=True)
    board_cmd.add_parser("rebuild", help="rebuild the Redis boards from PostgreSQL").set_defaults(
        func=cmd_leaderboard_rebuild)
    fanout = sub.add_parser("fanout", help="the board's fan-out server here (Debian's nginx with Nchan)")
    fanout.add_argument("--listen", default="127.0.0.1:8095", help="viewers' address (default %(default)s)")
    fanout.add_argument("--publish", default="", help="the publishers' address (default: BOARD_FANOUT_URL's, "
                                                       "else 127.0.0.1:8096)")
    fanout.add_argument("--workers", type=int, default=2)
    fanout.add_argument("--connections", type=int, default=4096, help="per worker (default %(default)s)")
    fanout.set_defaults(func=cmd_fanout, serves=True)
