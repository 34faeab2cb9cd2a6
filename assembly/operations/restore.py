"""A base backup and the archived WAL into a data folder, replayed until the server is promoted: what `gateway restore`
does to the installation's own folder, and `gateway drill restore` to a throwaway one.

The server replays on a Unix socket in a private folder, with the recovery settings given on its command line (never
written into the data folder: the next start of the restored server is an ordinary one). A restored server that keeps
archiving (`gateway restore`) then starts its new timeline safe: a checkpoint (PostgreSQL's checkpointer may sleep a
whole checkpoint_timeout after a promotion, archive_timeout unheeded), a segment switch and a base backup of the new
timeline, whose history file is archived before the command ends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from assembly.operations.backups import (
    BackupError,
    BackupPlace,
    archive_settings,
    backup_major,
    base_backups,
    base_to_restore,
    binaries_for,
    free_port,
    give_to,
    libpq_url,
    restore_command,
    run_tool,
    server_user,
    take_base_backup,
    unpack,
)
from assembly.operations.restored_folder import PGSERVER_HANDLES, REPLAY_HOT_STANDBY, postmaster
from gateway.db.engine import create_engine

log = logging.getLogger(__name__)
T = TypeVar("T")

PROMOTION_POLL_SECONDS = 0.2  # asks the server itself each time (a refused connection is a line in its log)
# A look at a file (the pid file, the archive's folder): cheap, so a restore's steps follow each other closely.
FILE_POLL_SECONDS = 0.05
PROGRESS_LOG_SECONDS = 10.0
ARCHIVED_WITHIN_SECONDS = 60.0
INSUFFICIENT_PRIVILEGE = "42501"
CANNOT_CONNECT_NOW = "57P03"  # starting up, replaying before it is consistent, shutting down
UNREACHABLE_SECONDS = 60.0  # no server there at all: long enough for one to be started, then the error is told


def prepare_recovery(base: Path, data: Path, user: str | None) -> None:
    """The base backup unpacked into `data` (which must not exist), ready to replay the archive when started."""
    unpack(base, data)
    (data / PGSERVER_HANDLES).unlink(missing_ok=True)
    for name in ("postgresql.conf", "pg_ident.conf"):  # Debian keeps them in /etc: not in a base backup
        (data / name).touch()
    (data / "recovery.signal").touch()
    give_to(data, user)
    data.chmod(0o700)


def recovery_options(place: BackupPlace, target: datetime | None, *, archive: bool) -> dict[str, str]:
    """Replay the archive (to the target, if any), then open for writes; archive the new timeline into the same
    archive (a restore) or not at all (a drill: never into the live archive)."""
    options = {"restore_command": restore_command(place.wal), "hot_standby": REPLAY_HOT_STANDBY,
               **(archive_settings(place.wal) if archive else {"archive_mode": "off"})}
    if target is not None:
        options |= {"recovery_target_time": target.astimezone(UTC).isoformat(), "recovery_target_action": "promote"}
    return options


@dataclass
class RecoveringServer:
    """PostgreSQL on a data folder, started with options of its own on a Unix socket in a private folder at a free
    port, trusted there alone (its own pg_hba.conf is left alone); stopped, it leaves no process behind."""

    bin_dir: Path
    data: Path
    user: str | None
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ballot-restore-")))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, role: str, database: str) -> str:
        return f"postgresql://{role}@/{database}?host={self.root}&port={self.port}"

    def start(self, options: Mapping[str, str]) -> None:
        hba = self.root / "pg_hba.conf"
        hba.write_text("local all all trust\nlocal replication all trust\n")
        give_to(self.root, self.user)
        own = {"port": str(self.port), "listen_addresses": "", "unix_socket_directories": str(self.root),
               "hba_file": str(hba), "logging_collector": "off", **options}
        args = [str(self.bin_dir / "postgres"), "-D", str(self.data)]
        for name, value in own.items():
            args += ["-c", f"{name}={value}"]
        with self.log_file.open("ab") as out:
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=out, user=self.user,
                                            start_new_session=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """A clean shutdown (a checkpoint: the next start replays nothing), then the private folder removed."""
        try:
            if self.alive():
                try:
                    run_tool([self.bin_dir / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "120", "stop"],
                             user=self.user, timeout=130)
                except (BackupError, subprocess.TimeoutExpired):
                    assert self.process is not None
                    self.process.kill()
            if self.process is not None:
                self.process.wait(timeout=30)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self) -> str:
        return self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""


async def wait_for_promotion(server: RecoveringServer, timeout: float) -> None:
    """Until the server has replayed what it was given and opens for writes (no connection before that: a replay
    runs without hot standby, `REPLAY_HOT_STANDBY`)."""
    engine = create_engine(server.url("postgres", "postgres"), pool_size=1)
    deadline = time.monotonic() + timeout
    next_log = time.monotonic() + PROGRESS_LOG_SECONDS
    try:
        while time.monotonic() < deadline:
            if not server.alive():
                raise BackupError(f"the restored server stopped during recovery\n{server.log_tail()}")
            running = postmaster(server.data)
            if running is not None and running[1] == "ready":  # taking connections: promoted, or about to be
                with contextlib.suppress(OSError, SQLAlchemyError):
                    async with engine.connect() as connection:
                        if not await connection.scalar(text("SELECT pg_is_in_recovery()")):
                            return
            if time.monotonic() >= next_log:  # no connection while it replays (each refused would be logged)
                log.info("still replaying the archived WAL")
                next_log = time.monotonic() + PROGRESS_LOG_SECONDS
            await asyncio.sleep(FILE_POLL_SECONDS)  # connects only once the pid file says it takes connections
    finally:
        await engine.dispose()
    raise BackupError(f"recovery did not end within {timeout:.0f} s\n{server.log_tail()}")


def start_new_timeline(url: str, place: BackupPlace, bin_dir: Path,
                       stopping: Callable[[], bool] = lambda: False) -> tuple[int, Path]:
    """On a promoted server that archives: a checkpoint (it wakes the checkpointer, which then keeps archive_timeout),
    the segment switched, and a base backup of the new timeline, in the archive before this returns (or until
    `stopping`). Returns the timeline and the base backup's folder. `url`: a superuser's, where the server is ours."""
    wake_and_switch(url, bin_dir)
    folder = take_base_backup(url, place, bin_dir)
    timeline = backup_timeline(folder)
    deadline = time.monotonic() + ARCHIVED_WITHIN_SECONDS
    while not timeline_backups(place, timeline):
        if stopping():
            raise BackupError(f"stopped before the base backup of timeline {timeline} was archived")
        if time.monotonic() > deadline:
            raise BackupError(f"the base backup of timeline {timeline} was not archived into {place.wal} within "
                              f"{ARCHIVED_WITHIN_SECONDS:.0f} s: see pg_stat_archiver")
        time.sleep(FILE_POLL_SECONDS)
    return timeline, folder


def wake_and_switch(url: str, bin_dir: Path) -> None:
    """CHECKPOINT and pg_switch_wal(), each error seen. A role without their rights (a REPLICATION-only one) is told,
    not failed: the base backup that follows forces a segment switch and a checkpoint of its own."""
    libpq, env = libpq_url(url)
    try:
        run_tool([bin_dir / "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-d", libpq,
                  "-c", "CHECKPOINT", "-c", "SELECT pg_switch_wal()"], env=env)
    except BackupError as exc:
        refused = [line for line in str(exc).splitlines() if f"ERROR:  {INSUFFICIENT_PRIVILEGE}:" in line]
        if not refused:
            raise
        log.warning("%s may not run CHECKPOINT or pg_switch_wal() (%s): the base backup's own checkpoint and "
                    "segment switch stand in for them", make_url(url).username,
                    refused[0][refused[0].index("ERROR:"):])


def backup_timeline(folder: Path) -> int:
    """The timeline a base backup was taken on, from its manifest (the last range of WAL it needs)."""
    manifest = json.loads((folder / "backup_manifest").read_text())
    return int(manifest["WAL-Ranges"][-1]["Timeline"])


def timeline_backups(place: BackupPlace, timeline: int) -> list[Path]:
    """The archive's backup history files of that timeline: one per base backup taken on it."""
    return sorted(place.wal.glob(f"{timeline:08X}" + "?" * 16 + ".*.backup"))


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float


@dataclass
class RestoreReport:
    base: Path
    target: datetime | None
    data: Path
    set_aside: Path | None = None  # what the data folder held before, kept under another name
    recovery_point: datetime | None = None
    timeline: int | None = None
    new_base: Path | None = None
    steps: list[Step] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)


async def timed(steps: list[Step], name: str, work: Callable[[], Awaitable[T]]) -> T:
    started = time.perf_counter()
    try:
        return await work()
    finally:
        steps.append(Step(name, time.perf_counter() - started))


def set_aside(data: Path, now: datetime) -> Path | None:
    """The folder's present contents kept under another name (never deleted: the last copy of something, maybe)."""
    if not data.exists():
        return None
    if not any(data.iterdir()):
        data.rmdir()
        return None
    kept = data.with_name(f"{data.name}.before-restore-{now:%Y%m%dT%H%M%SZ}")
    data.rename(kept)
    return kept


async def last_replayed(url: str) -> datetime | None:
    """The commit time of the last transaction replayed from the archive (None: none after the base backup)."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            value = await connection.scalar(text("SELECT pg_last_xact_replay_timestamp()"))
    finally:
        await engine.dispose()
    return value if isinstance(value, datetime) else None


async def restore_folder(place: BackupPlace, data: Path, configured_bin_dir: Path | None, role: str, database: str,
                         target: datetime | None = None, timeout: float = 3600) -> RestoreReport:
    """`gateway restore`: the newest base backup (begun before `target`) into `data`, the archive replayed (to
    `target`), the server promoted, its new timeline switched and backed up; the server stopped again, cleanly,
    for the service to start as usual. Whatever fails once the folder's old contents are set aside names where they
    are: maybe the only copy of WAL never archived."""
    if (running := postmaster(data)) is not None:
        raise BackupError(f"a PostgreSQL server (pid {running[0]}) runs on {data}: stop it first (Ctrl-C on "
                          "`make run`, `systemctl stop postgresql`)")
    base = base_to_restore(base_backups(place), target)
    report = RestoreReport(base, target, data)
    user = server_user(like=place.wal)
    bin_dir = binaries_for(backup_major(base), configured_bin_dir)
    report.set_aside = set_aside(data, datetime.now(UTC))
    if report.set_aside is not None:
        log.warning("what %s held is kept in %s (the restore never deletes it)", data, report.set_aside)
    try:
        await _restore_into(report, place, RecoveringServer(bin_dir, data, user), role, database, timeout)
    except Exception as exc:
        if report.set_aside is None:
            raise
        reason = str(exc) if isinstance(exc, BackupError) else f"{type(exc).__name__}: {exc}"
        raise BackupError(f"{reason}\nwhat {data} held before the restore is kept in {report.set_aside}") from exc
    return report


async def _restore_into(report: RestoreReport, place: BackupPlace, server: RecoveringServer, role: str,
                        database: str, timeout: float) -> None:
    try:
        await timed(report.steps, "unpack the base backup",
                    lambda: asyncio.to_thread(prepare_recovery, report.base, server.data, server.user))
        server.start(recovery_options(place, report.target, archive=True))
        log.info("replaying the archived WAL into %s; the server opens for writes once it is done", server.data)
        await timed(report.steps, "replay the archived WAL", lambda: wait_for_promotion(server, timeout))
        report.recovery_point = await last_replayed(server.url(role, database))
        # Its own socket, trusted: the checkpoint and the switch as the cluster's superuser, whatever DATABASE_URL's
        # role may do (a REPLICATION-only one may not).
        admin = server.url(await bootstrap_superuser(server.url(role, database)), database)
        report.timeline, report.new_base = await timed(
            report.steps, "base backup of the new timeline",
            lambda: asyncio.to_thread(start_new_timeline, admin, place, server.bin_dir))
    finally:
        await asyncio.to_thread(server.stop)


async def bootstrap_superuser(url: str) -> str:
    """The cluster's first superuser (initdb's: `postgres`, or the Docker image's POSTGRES_USER)."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return str(await connection.scalar(text("SELECT rolname FROM pg_roles WHERE oid = 10")))
    finally:
        await engine.dispose()


def restore_lines(report: RestoreReport) -> list[str]:
    lines = [f"base backup restored: {report.base.name}" + (f", replayed to {report.target:%Y-%m-%d %H:%M:%S} UTC"
                                                             if report.target else ", the whole archive replayed"),
             f"data folder: {report.data}"]
    if report.set_aside is not None:
        lines.append(f"what it held before: {report.set_aside} (remove it once the restore is checked)")
    lines.append("recovery point: " + (f"{report.recovery_point.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC, the last "
                                       "transaction restored" if report.recovery_point else
                                       "the base backup itself (no transaction replayed after it)"))
    if report.new_base is not None:
        lines.append(f"new timeline {report.timeline}: base backup {report.new_base.name}, in the archive")
    lines.extend(f"{step.name}: {step.seconds:.1f} s" for step in report.steps)
    lines.append(f"total: {report.seconds:.1f} s")
    return lines


async def wait_until_writable(database_url: str, stopping: Callable[[], bool] = lambda: False) -> bool:
    """Until the database opens for writes, saying so every 10 s: a server restored by hand (or just started on a
    restore) replays the archive first, refusing connections until it is consistent, then read-only, and the
    service's first write would fail there. False: stopped while waiting. No server there at all (the address wrong,
    or not started within a minute), or a refusal of another kind (a password): the error is raised, as before."""
    engine = create_engine(database_url, pool_size=1)
    next_log, unreachable_since = 0.0, None
    try:
        while not stopping():
            try:
                state = await _recovery_state(engine)
                unreachable_since = None
            except (OSError, SQLAlchemyError) as exc:
                if not _server_says_not_yet(exc):
                    unreachable_since = unreachable_since or time.monotonic()
                    if not isinstance(exc, OSError) or time.monotonic() - unreachable_since > UNREACHABLE_SECONDS:
                        raise
                state = f"not accepting connections yet: {str(exc).strip().splitlines()[0]}"
            if state is None:
                if next_log:
                    log.warning("PostgreSQL is promoted (its recovery ended): the service starts")
                return True
            if time.monotonic() >= next_log:
                log.warning("PostgreSQL is still replaying WAL (%s): the service starts once it is promoted (a standby "
                            "never is: give DATABASE_URL the primary)", state)
                next_log = time.monotonic() + PROGRESS_LOG_SECONDS
            await asyncio.sleep(PROMOTION_POLL_SECONDS)
        return False
    finally:
        await engine.dispose()


async def _recovery_state(engine: AsyncEngine) -> str | None:
    """None once the server is open for writes; while it replays, how far."""
    async with engine.connect() as connection:
        if not await connection.scalar(text("SELECT pg_is_in_recovery()")):
            return None
        replayed = await connection.scalar(text("SELECT pg_last_xact_replay_timestamp()"))
    return f"in recovery, read-only; replayed up to {replayed or 'the base backup'}"


def _server_says_not_yet(exc: BaseException) -> bool:
    """The server answered that it cannot take connections now (starting, replaying before it is consistent)."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == CANNOT_CONNECT_NOW
