"""PostgreSQL's own backups: each WAL segment copied to an archive as it fills (or after ARCHIVE_TIMEOUT_SECONDS),
base backups by `pg_basebackup`, and throwaway servers to restore them into (`gateway drill restore`).

A restore needs PostgreSQL binaries of the backup's major version: the embedded default's come with pgserver (16),
a Debian server's from /usr/lib/postgresql/<major>/bin; `POSTGRES_BIN_DIR` names them where neither is right."""

from __future__ import annotations

import importlib.util
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from assembly.operations.embedded_packages import add_system_user
from gateway.kit.settings import ServiceSettings

# The archive's time-out: a segment that has not filled is archived after this long, so a lost server loses at
# most this long of writes (PostgreSQL switches segments only if something was written). The default; a tighter one
# (`archive_settings`, `EmbeddedPostgres.archive_timeout`) loses less and fills the archive with more segments.
ARCHIVE_TIMEOUT_SECONDS = 60
STAMP = "%Y%m%dT%H%M%SZ"  # a base backup's folder: when it began, UTC
PARTIAL = ".partial"  # a base backup under way (or cut short): never restored
# A WAL segment being copied into the archive. Not ".partial": that is the name PostgreSQL gives the old timeline's
# last segment when a standby is promoted, which the new primary then archives; a copy of that segment cut short by
# the old primary's death would make the new primary's archiving fail on it again and again.
COPYING = ".copying"


class BackupError(RuntimeError):
    """A backup or a restore could not be made; the message says what to do."""


@dataclass(frozen=True)
class BackupPlace:
    """Where backups are kept: `wal/` (the archive, written by the server) and `base/<when>/` (pg_basebackup's)."""

    root: Path

    @property
    def wal(self) -> Path:
        return self.root / "wal"

    @property
    def base(self) -> Path:
        return self.root / "base"


def backup_place(settings: ServiceSettings) -> BackupPlace:
    return BackupPlace((settings.backup_dir or settings.gateway_data_dir / "backups").resolve())


def archive_command(wal: Path) -> str:
    """Copy a finished segment into the archive under a temporary name, then rename it: a restore never reads a
    half-copied segment. A segment already there with the same bytes (archived, then the server restarted before
    it noted so) is success; with other bytes, a failure PostgreSQL retries and logs, never an overwrite."""
    where = shlex.quote(str(wal))
    return (f"(test -f {where}/%f && cmp -s %p {where}/%f) || "
            f"(test ! -f {where}/%f && cp %p {where}/%f{COPYING} && mv {where}/%f{COPYING} {where}/%f)")


def restore_command(wal: Path) -> str:
    return f"cp {shlex.quote(str(wal))}/%f %p"


def archive_settings(wal: Path, timeout: int = ARCHIVE_TIMEOUT_SECONDS) -> dict[str, str]:
    """The server settings that archive every segment, at the latest `timeout` seconds after it was begun
    (archive_mode needs a restart, the others a reload)."""
    if timeout < 1:  # PostgreSQL's 0 turns the time-out off: a quiet night's writes would wait for 16 MB
        raise BackupError(f"the archive's time-out must be at least 1 s, not {timeout}")
    return {"wal_level": "replica", "archive_mode": "on", "archive_command": archive_command(wal),
            "archive_timeout": f"{timeout}s"}


def conf_lines(settings: Mapping[str, str]) -> str:
    """postgresql.conf lines; the last line naming a setting wins, so these go at the end of a file."""
    return "".join(f"{name} = '{value.replace(chr(39), chr(39) * 2)}'\n" for name, value in settings.items())


# ---- Binaries ---------------------------------------------------------------------------------------------------

def binary_dirs(configured: Path | None) -> list[Path]:
    """Where PostgreSQL binaries may be: the configured folder, Debian's (newest first), the one `pg_config` on
    PATH names, and pgserver's (the embedded default's)."""
    found = [configured] if configured else []
    found += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _leading_int(p.parent.name),
                    reverse=True)
    if pg_config := shutil.which("pg_config"):
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if result.returncode == 0:
            found.append(Path(result.stdout.strip()))
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        found.append(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin")
    return [folder for folder in dict.fromkeys(found) if (folder / "postgres").exists()]


def _leading_int(text: str) -> int:
    match = re.match(r"\d+", text)
    return int(match.group()) if match else 0


def major_of(bin_dir: Path) -> int:
    """`postgres (PostgreSQL) 16.2` -> 16."""
    out = subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"\) (\d+)", out)
    if match is None:
        raise BackupError(f"cannot tell the version of {bin_dir / 'postgres'}: {out.strip()!r}")
    return int(match.group(1))


def binaries_for(major: int | None, configured: Path | None) -> Path:
    """A folder of binaries of that major version (any, if None): a data folder only opens with its own."""
    dirs = binary_dirs(configured)
    for folder in dirs:
        if major is None or major_of(folder) == major:
            return folder
    seen = ", ".join(f"{folder} ({major_of(folder)})" for folder in dirs) or "none"
    raise BackupError(f"no PostgreSQL {major or ''} binaries found (seen: {seen}); install them "
                      f"(Debian: postgresql-{major or 15}) or set POSTGRES_BIN_DIR")


def server_user(like: Path | None = None) -> str | None:
    """PostgreSQL refuses to run as root: as root, a throwaway server runs as the user that owns `like` (the WAL
    archive: its segments are readable by their writer alone), else as `postgres` (Debian's), else as the embedded
    default's own user."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    if like is not None and like.exists() and like.stat().st_uid != 0:
        return pwd.getpwuid(like.stat().st_uid).pw_name
    try:
        return pwd.getpwnam("postgres").pw_name
    except KeyError:
        add_system_user()
        return "pgserver"


def give_to(path: Path, user: str | None) -> None:
    """The whole tree to the server's user (as root: what pg_basebackup wrote, root's, is read by that user)."""
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for folder, _dirs, files in os.walk(path):
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid)


def run_tool(args: list[str | Path], *, user: str | None = None, env: Mapping[str, str] | None = None,
             timeout: float = 3600) -> str:
    result = subprocess.run([str(arg) for arg in args], capture_output=True, text=True, user=user, timeout=timeout,
                            env={**os.environ, **(env or {})}, check=False, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return result.stdout


# ---- Base backups -----------------------------------------------------------------------------------------------

def libpq_url(database_url: str) -> tuple[str, dict[str, str]]:
    """DATABASE_URL as libpq's tools take it, the password handed over in PGPASSWORD (never on a command line)."""
    url = make_url(database_url)
    env = {"PGPASSWORD": url.password} if url.password else {}
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def take_base_backup(database_url: str, place: BackupPlace, bin_dir: Path, now: datetime | None = None) -> Path:
    """A compressed tar base backup, with the WAL that makes it consistent, in `base/<when it began>/`."""
    when = (now or datetime.now(UTC)).strftime(STAMP)
    target = place.base / when
    partial = place.base / (when + PARTIAL)
    place.base.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(partial, ignore_errors=True)
    url, env = libpq_url(database_url)
    run_tool([bin_dir / "pg_basebackup", "-d", url, "-D", partial, "-Ft", "-z", "-X", "stream",
              "--checkpoint=fast", "--label", f"ballot {when}"], env=env)
    partial.rename(target)
    return target


def base_backups(place: BackupPlace) -> list[tuple[datetime, Path]]:
    """The finished base backups, oldest first."""
    found = []
    for folder in place.base.glob("*") if place.base.is_dir() else ():
        try:
            began = datetime.strptime(folder.name, STAMP).replace(tzinfo=UTC)
        except ValueError:
            continue  # a partial one, or not ours
        if (folder / "base.tar.gz").exists():
            found.append((began, folder))
    return sorted(found)


def base_to_restore(backups: list[tuple[datetime, Path]], target: datetime | None) -> Path:
    """The newest base backup begun before the target (the newest of all without one): replaying less WAL."""
    usable = [folder for began, folder in backups if target is None or began < target]
    if not usable:
        raise BackupError("no base backup to restore" + (f" begun before {target:%Y-%m-%d %H:%M:%S} UTC" if target
                                                         else "") + ": take one with `gateway backup base`")
    return usable[-1]


def backup_major(base: Path) -> int:
    """The major version of the server a base backup came from (its PG_VERSION file)."""
    with tarfile.open(base / "base.tar.gz") as tar:
        member = tar.extractfile("PG_VERSION")
        if member is None:
            raise BackupError(f"{base} holds no PG_VERSION: not a base backup")
        return int(member.read().decode().strip())


# tarfile's extraction filters came with Python 3.11.4; before them, our own backups are extracted as they are.
TAR_FILTER: dict[str, str] = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}


def unpack(base: Path, data: Path) -> None:
    """A tar base backup into an empty data folder: the cluster, then the WAL streamed with it."""
    if list(base.glob("[0-9]*.tar.gz")):
        raise BackupError(f"{base} has tablespaces of its own: restore it by hand (tar -C <their folders>)")
    data.mkdir(mode=0o700, parents=True)
    with tarfile.open(base / "base.tar.gz") as tar:
        tar.extractall(data, **TAR_FILTER)  # type: ignore[arg-type]
    if (base / "pg_wal.tar.gz").exists():
        with tarfile.open(base / "pg_wal.tar.gz") as tar:
            tar.extractall(data / "pg_wal", **TAR_FILTER)  # type: ignore[arg-type]


# ---- Throwaway servers ------------------------------------------------------------------------------------------

def free_port() -> int:
    """A port nothing listens on now: the throwaway server's socket is named by it (and never the live 5432)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Throwaway:
    """A PostgreSQL server of its own in a temporary folder, on a Unix socket of its own (a private folder) at a
    free port, trusted there alone: for a restore drill, or for tests that need a server they may reconfigure."""

    bin_dir: Path
    root: Path
    port: int
    user: str | None

    @classmethod
    def make(cls, bin_dir: Path, port: int, user: str | None) -> Throwaway:
        root = Path(tempfile.mkdtemp(prefix="ballot-pg-"))
        (root / "sockets").mkdir(mode=0o700)
        give_to(root, user)
        return cls(bin_dir, root, port, user)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, role: str, database: str) -> str:
        return f"postgresql://{role}@/{database}?host={self.root / 'sockets'}&port={self.port}"

    def initdb(self) -> None:
        run_tool([self.bin_dir / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                 user=self.user)

    def configure(self, settings: Mapping[str, str]) -> None:
        """Our settings last in postgresql.auto.conf (they win over the copied cluster's own), with a pg_hba.conf
        of our own: a restored cluster must not archive into the live archive, nor take the live server's port."""
        hba = self.root / "pg_hba.conf"
        hba.write_text("local all all trust\nlocal replication all trust\n")
        for name in ("postgresql.conf", "pg_ident.conf"):  # Debian keeps them in /etc: not in a base backup
            (self.data / name).touch()
        own = {"port": str(self.port), "listen_addresses": "", "hba_file": str(hba),
               "unix_socket_directories": str(self.root / "sockets"), "logging_collector": "off", **settings}
        with (self.data / "postgresql.auto.conf").open("a") as conf:
            conf.write(conf_lines(own))
        give_to(self.root, self.user)
        self.data.chmod(0o700)

    def start(self, timeout: float = 3600) -> None:
        run_tool([self.bin_dir / "pg_ctl", "-D", self.data, "-l", self.root / "server.log", "-w",
                  "-t", str(int(timeout)), "start"], user=self.user, timeout=timeout + 10)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            run_tool([self.bin_dir / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"], user=self.user,
                     timeout=120)

    def log_tail(self) -> str:
        log = self.root / "server.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
