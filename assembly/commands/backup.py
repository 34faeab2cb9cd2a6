"""`gateway backup base`, `gateway restore [--to TIME]` and `gateway drill restore [--to TIME]`: PostgreSQL's base
backups, the restore of one with the archived WAL into the installation's data folder, and the timed drill that does
the same into a throwaway folder and checks what comes back."""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from assembly.commands.services import Subcommands, with_database, with_services
from assembly.operations.backups import (
    BackupError,
    archive_settings,
    backup_place,
    binaries_for,
    conf_lines,
    free_port,
    take_base_backup,
)
from assembly.settings import Settings

if TYPE_CHECKING:
    from gateway.db.engine import Sessions

EMBEDDED_ROLE, EMBEDDED_DATABASE = "postgres", "gateway"  # the embedded default's (assembly.machine.embedded)


def cmd_backup_base(settings: Settings, args: argparse.Namespace) -> int:
    """A base backup of the live database now, by the binaries of its own major version."""
    from sqlalchemy import text

    async def major(sessions: Sessions) -> int:
        async with sessions() as session:
            return int(await session.scalar(text("SHOW server_version_num")) or 0) // 10000

    with ExitStack() as stack:
        if not settings.database_url:  # the embedded default's server (a backup needs no Redis of its own)
            settings = with_services(settings, stack)
        place = backup_place(settings)
        try:
            bin_dir = binaries_for(with_database(settings, major), settings.postgres_bin_dir)
            began = datetime.now(UTC)
            folder = take_base_backup(settings.database_url or "", place, bin_dir)
        except BackupError as exc:
            print(f"gateway: {exc}", file=sys.stderr)
            return 1
    size = sum(part.stat().st_size for part in folder.iterdir())
    print(f"base backup {folder} ({size / 1e6:.1f} MB) in {(datetime.now(UTC) - began).total_seconds():.1f} s")
    return 0


def cmd_backup_settings(settings: Settings, args: argparse.Namespace) -> int:
    """The server settings that archive into BACKUP_DIR, for a production server's postgresql.conf (conf.d)."""
    place = backup_place(settings)
    print(f"# WAL archiving into {place.wal} (the folder must exist, owned by the server's user); restart after")
    print(conf_lines(archive_settings(place.wal)), end="")
    return 0


def parse_time(value: str) -> datetime:
    """ISO 8601; without a zone, UTC."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a time (ISO 8601, e.g. 2026-11-25T20:15:00Z): {value!r}") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def cmd_drill_restore(settings: Settings, args: argparse.Namespace) -> int:
    """Restore into a throwaway server, never the live one: exit 0 if every contest's ledger verifies."""
    from assembly.operations.drill import report_lines, run_drill

    role, database = role_and_database(settings)
    try:
        report = asyncio.run(run_drill(backup_place(settings), settings.postgres_bin_dir, args.port or free_port(),
                                       role, database, args.to, timeout=args.timeout,
                                       boards_redis=args.boards_redis))
    except BackupError as exc:
        print(f"gateway: the drill failed: {exc}", file=sys.stderr)
        return 1
    print("\n".join(report_lines(report)))
    return 0 if report.clean else 1


def role_and_database(settings: Settings) -> tuple[str, str]:
    """The live database's role and name (the restored cluster has the same), the embedded default's without one."""
    from sqlalchemy.engine import make_url

    if not settings.database_url:
        return EMBEDDED_ROLE, EMBEDDED_DATABASE
    url = make_url(settings.database_url)
    return url.username or EMBEDDED_ROLE, url.database or EMBEDDED_DATABASE


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    """The installation's own data folder restored, its server promoted and its new timeline backed up; the server
    is left stopped, for the service (or systemd) to start as usual."""
    from assembly.operations.restore import restore_folder, restore_lines

    if args.data_dir is None and settings.database_url:
        print("gateway: DATABASE_URL names a server of your own: stop it and name its data folder with --data-dir "
              "(Debian: /var/lib/postgresql/15/main)", file=sys.stderr)
        return 2
    data = (args.data_dir or settings.gateway_data_dir / "postgres").resolve()
    role, database = role_and_database(settings)
    try:
        report = asyncio.run(restore_folder(backup_place(settings), data, settings.postgres_bin_dir, role, database,
                                            args.to, timeout=args.timeout))
    except BackupError as exc:
        print(f"gateway: the restore failed: {exc}", file=sys.stderr)
        return 1
    start = "make run (or gateway run)" if args.data_dir is None else "start PostgreSQL (systemctl start postgresql)"
    print("\n".join([*restore_lines(report), "", f"next: {start}; then gateway leaderboard rebuild and gateway "
                     "reconcile --since 6h"]))
    return 0


def add(sub: Subcommands) -> None:
    backup = sub.add_parser("backup", help="PostgreSQL's backups").add_subparsers(dest="backup_command",
                                                                                   required=True)
    backup.add_parser("base", help="take a base backup now (pg_basebackup, into BACKUP_DIR/base)").set_defaults(
        func=cmd_backup_base)
    backup.add_parser("settings", help="print the postgresql.conf lines that archive the WAL into BACKUP_DIR/wal "
                      "(for a server of your own; the embedded default sets them itself)").set_defaults(
        func=cmd_backup_settings)
    drill = sub.add_parser("drill", help="rehearse a disaster").add_subparsers(dest="drill_command", required=True)
    restore = drill.add_parser("restore", help="restore the latest base backup and the archived WAL into a fresh "
                               "server, verify the ledger, recount the tallies, print the recovery point and "
                               "the time each step took")
    restore.add_argument("--to", type=parse_time, metavar="TIME",
                         help="replay the WAL up to this time (ISO 8601, UTC without a zone); default: all of it")
    restore.add_argument("--boards-redis", metavar="URL", help="also rebuild the boards into this Redis DB, as "
                         "after a loss of Redis (a scratch DB: its boards are overwritten; never the live one)")
    restore.add_argument("--port", type=int, help="the fresh server's port (default: a free one)")
    restore.add_argument("--timeout", type=float, default=3600, help="seconds the replay may take (default 3600)")
    restore.set_defaults(func=cmd_drill_restore)
    real = sub.add_parser("restore", help="restore the newest base backup and the archived WAL into the "
                          "installation's data folder (its server stopped), wait until it is promoted, then take a "
                          "base backup of its new timeline")
    real.add_argument("--to", type=parse_time, metavar="TIME",
                      help="replay the WAL up to this time (ISO 8601, UTC without a zone); default: all of it")
    real.add_argument("--data-dir", type=Path, metavar="DIR", help="the data folder of a server of your own "
                      "(stopped); default: the embedded default's, GATEWAY_DATA_DIR/postgres")
    real.add_argument("--timeout", type=float, default=3600, help="seconds the replay may take (default 3600)")
    real.set_defaults(func=cmd_restore)
