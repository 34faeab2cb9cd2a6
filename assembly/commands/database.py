"""`gateway migrate | seed`."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack

from assembly.commands.services import Subcommands, with_database, with_services
from assembly.settings import Settings


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from assembly.channel_list import MIGRATIONS
    from assembly.operations.restore import wait_until_writable
    from gateway.db.migrate import upgrade

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        asyncio.run(wait_until_writable(settings.database_url or ""))  # a restored server replays its WAL first
        upgrade(settings.database_url or "", MIGRATIONS)
    print("database is at the latest schema")
    return 0


def cmd_seed(settings: Settings, args: argparse.Namespace) -> int:
    from assembly.machine.demo import seed_demos
    from assembly.machine.demo_media import demo_storage
    from gateway.db.seed import KENYA_DEMO_SLUG

    if not args.demo:
        print("nothing to seed: pass --demo", file=sys.stderr)
        return 2
    with ExitStack() as stack:
        settings = with_services(settings, stack)
        storage = demo_storage(settings)
        contest = with_database(settings, lambda sessions: seed_demos(sessions, storage))
    print(f"demo contest ready: /api/v1/contests/{contest.slug} (and M-Pesa's, in KES: /api/v1/contests/"
          f"{KENYA_DEMO_SLUG})")
    return 0


def add(sub: Subcommands) -> None:
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(func=cmd_migrate)
    seed_cmd = sub.add_parser("seed", help="create demo data")
    seed_cmd.add_argument("--demo", action="store_true",
                          help="the demo contest, its candidates' clips and photos (idempotent)")
    seed_cmd.set_defaults(func=cmd_seed)
