"""A data folder of the embedded PostgreSQL that came from a base backup (`gateway restore`, or unpacked by hand with
`recovery.signal`): what the copy carries of the server it was taken from and must be dropped (pgserver's list of the
processes holding the server, the socket's lock), and a start that waits for the server to replay the archive and be
promoted before anything writes, stopping the server it started when it is not (stopped, Ctrl-C, an error).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# pgserver's list, in its data folder, of the processes holding the server: the last to let go stops it. A base
# backup copies it and a killed process never takes itself off, so a list naming processes long gone kept the server
# running after the service stopped.
PGSERVER_HANDLES = ".handle_pids.json"
RECOVERY_LOG_SECONDS = 10.0
# A replay takes no read-only connections: with them (hot_standby on), a server whose settings are below what the
# archived WAL's primary had (max_connections, raised by the service since the base backup) pauses its replay for
# good ("insufficient parameter settings"); without them PostgreSQL does not ask.
REPLAY_HOT_STANDBY = "off"
# From `pg_ctl start`'s return (it does not wait) to the postmaster's pid file: written as it starts, well within this
# on a loaded machine; a server with no pid file by then never started.
STARTING_SECONDS = 30.0


class ReplayFailed(RuntimeError):
    """The server on a restored folder stopped before it was promoted."""


class StartStopped(RuntimeError):
    """Asked to stop (Ctrl-C) while the embedded PostgreSQL replayed a restore or took its start-time base backup: what
    this start began is stopped again."""


def never_stopping() -> bool:
    return False


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
                        f"-k {pgdata}", "-o", f"-c hot_standby={REPLAY_HOT_STANDBY}", "-l", str(pgdata / "log"),
                        "start"], user=system_user, check=True,
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
            raise ReplayFailed(f"PostgreSQL stopped while replaying the archive: see {server.pgdata / 'log'}"
                                       f"\n{server.log_tail()}")
        if stopping():
            raise StartStopped(f"stopped while PostgreSQL replayed the archive into {server.pgdata}: the next start "
                               "goes on with the replay")
        if time.monotonic() >= next_log:
            log.warning("PostgreSQL still replays the archived WAL (%s): waiting for its promotion", server.pgdata)
            next_log = time.monotonic() + RECOVERY_LOG_SECONDS
        time.sleep(0.2)
    log.warning("PostgreSQL has replayed the archive and is promoted: the service starts")
