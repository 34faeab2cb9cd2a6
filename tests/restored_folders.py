"""Data folders restored as the runbook's restore by hand leaves them, and the PostgreSQL processes on a folder: for the
tests of what the service does when it starts on one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
from sqlalchemy import text

from assembly.machine.embedded import EmbeddedPostgres
from assembly.operations.backups import BackupPlace, base_backups, conf_lines, give_to, restore_command, server_user
from assembly.operations.restore import prepare_recovery
from gateway.db.engine import create_engine

ARCHIVED_WITHIN = 60.0  # a segment switched, in the archive: the archiver's pace on a loaded machine


def scratch_folder() -> Iterator[Path]:
    """A test's folder (`yield from` it in a fixture). Not under pytest's temporary root (0700, root's): the server's
    own user writes the archive here."""
    folder = Path(tempfile.mkdtemp(prefix="ballot-restore-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Installation:
    """`make run`'s installation in `folder`: its data folder (`var/`) and its backups beside it."""

    folder: Path

    @property
    def backups(self) -> BackupPlace:
        return BackupPlace(self.folder / "backups")

    @property
    def pgdata(self) -> Path:
        return (self.folder / "var" / "postgres").resolve()

    def server(self, max_connections: int | None = None) -> EmbeddedPostgres:
        """The service's PostgreSQL on it, as `make run` starts it."""
        return EmbeddedPostgres(self.folder / "var", archive_to=self.backups.root, max_connections=max_connections)

    def keep_as(self, kept: Path) -> Path:
        """Its server stopped, the installation moved to `kept`: one made once, copied for each test (`copy_of`)."""
        self.folder.rename(kept)
        return kept


def copy_of(kept: Path, folder: Path) -> Installation:
    """A copy of an installation kept (`Installation.keep_as`) in `folder`, where it was made: the paths its server
    wrote into its settings and its base backups hold there alone. Whatever a test before left there goes first."""
    kill_postgres_on((folder / "var" / "postgres").resolve())
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run(["cp", "-a", str(kept), str(folder)], check=True)  # the owners too: the server's user's files
    return Installation(folder)


def postgres_processes_on(pgdata: Path) -> list[int]:
    return [proc.pid for proc in psutil.process_iter(["name", "cmdline"])
            if proc.info["name"] == "postgres" and str(pgdata) in " ".join(proc.info["cmdline"] or [])]


def kill_postgres_on(pgdata: Path) -> list[int]:
    """What a failing test left running on the folder, killed (and named)."""
    left = postgres_processes_on(pgdata)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


def restore_by_hand(pgdata: Path, backups: BackupPlace, command: str | None = None) -> None:
    """The runbook's restore by hand of the embedded default's (stopped) folder: its contents moved aside, the newest
    base backup unpacked in its place, `recovery.signal`, and the archive's `restore_command` (or `command`) in
    postgresql.auto.conf; the service then starts on it."""
    pgdata.rename(pgdata.with_name(pgdata.name + ".old"))
    user = server_user(like=backups.wal)
    prepare_recovery(base_backups(backups)[-1][1], pgdata, user)
    with (pgdata / "postgresql.auto.conf").open("a") as conf:
        conf.write(conf_lines({"restore_command": command or restore_command(backups.wal)}))
    give_to(pgdata, user)


async def shown(url: str, setting: str) -> str:
    """What the server at `url` says of one of its settings (`SHOW`), on a connection of its own."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return str(await connection.scalar(text(f"SHOW {setting}")))
    finally:
        await engine.dispose()


async def archive_now(url: str) -> None:
    """The WAL written so far switched out and waited for in the archive (as the archive's time-out does)."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            segment = await connection.scalar(text("SELECT pg_walfile_name(pg_switch_wal())"))
            await connection.commit()
            deadline = time.monotonic() + ARCHIVED_WITHIN
            while (await connection.scalar(text("SELECT last_archived_wal FROM pg_stat_archiver")) or "") < segment:
                await connection.commit()
                assert time.monotonic() < deadline, f"segment {segment} not archived within {ARCHIVED_WITHIN} s"
                await asyncio.sleep(0.1)
    finally:
        await engine.dispose()
