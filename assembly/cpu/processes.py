"""An installation's processes on this machine and the CPU each kind of them has spent (read from /proc, Linux's):
what `gateway rehearse` prints by process beside its parts' shares, and the benchmarks' CPU figures."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PROC = Path("/proc")
# The `gateway` subcommand a process runs (`python -m assembly.cli web`, or the `gateway web` script).
SUBCOMMAND = re.compile(r"(?:\bassembly\.cli|(?:^|/)gateway) ([a-z][a-z-]*)")
KIND_OF_SUBCOMMAND = {"web": "web processes", "worker": "RQ workers", "run": "gateway run", "media": "stand-ins",
                      "cloudinary": "stand-ins", "stand-ins": "stand-ins", "fanout": "board fan-out"}
# Processes that are no `gateway` subcommand, by a word of their command line (first match wins).
KIND_OF_WORD = (("assembly.machine.stand_in_logs", "stand-ins"), ("postgres", "PostgreSQL"), ("redis", "Redis"))
OTHER = "other"
TCP_LISTEN = "0A"  # a TCP socket's state in /proc/net/tcp
UNIX_ACCEPTING = "00010000"  # a Unix socket's flags in /proc/net/unix: it listens


def kind_of(command: str) -> str:
    """A process's kind by its command line (its arguments joined by spaces)."""
    found = SUBCOMMAND.search(command)
    if found and found.group(1) in KIND_OF_SUBCOMMAND:
        return KIND_OF_SUBCOMMAND[found.group(1)]
    return next((kind for word, kind in KIND_OF_WORD if word in command), OTHER)


def command_lines() -> dict[int, str]:
    """Every process's command line, its arguments joined by spaces."""
    found = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return found


def environment_of(pid: int) -> str:
    """A process's environment, NUL-separated ("" where it cannot be read: another user's)."""
    try:
        return (PROC / str(pid) / "environ").read_bytes().decode(errors="replace")
    except OSError:
        return ""


@dataclass(frozen=True)
class ProcessTable:
    commands: dict[int, str]
    parents: dict[int, int]
    cpu: dict[int, float]  # user + system seconds, its own and its children's that it has reaped

    def descendants(self, roots: Iterable[int]) -> set[int]:
        """`roots` and every process under them."""
        found = {pid for pid in roots if pid in self.parents}
        grew = True
        while grew:
            more = {pid for pid, parent in self.parents.items() if parent in found} - found
            found |= more
            grew = bool(more)
        return found

    def by_kind(self, pids: Iterable[int]) -> dict[str, float]:
        """The CPU seconds `pids` have spent, by kind. A child is counted in its parent's once reaped (PostgreSQL's
        backends that ended), never twice."""
        totals: dict[str, float] = {}
        for pid in pids:
            kind = self.kind(pid)
            totals[kind] = totals.get(kind, 0.0) + self.cpu.get(pid, 0.0)
        return totals

    def kind(self, pid: int) -> str:
        """Its command line's kind, or else its parent's: a worker's periodic enqueuer and its clips' ffmpeg are
        the worker's work."""
        seen: set[int] = set()
        while pid and pid not in seen:
            kind = kind_of(self.commands.get(pid, ""))
            if kind != OTHER:
                return kind
            seen.add(pid)
            pid = self.parents.get(pid, 0)
        return OTHER


def machine_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent (all cores, user + system + the rest but idle and I/O wait)."""
    values = [int(v) for v in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def read_table() -> ProcessTable:
    tick = os.sysconf("SC_CLK_TCK")
    commands = command_lines()
    parents, cpu = {}, {}
    for pid in commands:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
            parents[pid] = int(fields[1])
            cpu[pid] = sum(int(value) for value in fields[11:15]) / tick  # utime, stime, cutime, cstime
    return ProcessTable(commands, parents, cpu)


@dataclass(frozen=True)
class Address:
    """Where a server of the installation listens on this machine: a TCP port on loopback, or a Unix socket."""

    port: int | None = None
    path: str | None = None


LOOPBACK_NAMES = ("", "localhost")


def on_this_machine(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def address_of(url: str) -> Address | None:
    """Where the server of `url` (the web's http(s), PostgreSQL's, Redis's) listens here; None for another host."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "unix":
        return Address(path=parts.path)
    query = parse_qs(parts.query)
    default = {"http": 80, "https": 443, "postgresql": 5432, "postgres": 5432, "redis": 6379, "rediss": 6379}
    port = parts.port or default.get(scheme)
    if scheme in ("postgresql", "postgres") and query.get("host", [""])[0].startswith("/"):  # a socket's folder
        return Address(path=f"{query['host'][0]}/.s.PGSQL.{port}")
    return Address(port=port) if port and on_this_machine(parts.hostname or "") else None


def listening_at(addresses: Iterable[Address]) -> set[int]:
    """The processes with a socket listening at one of `addresses` (every web process of a host: SO_REUSEPORT). A
    process's sockets are read from its open files: another user's (a PostgreSQL run as `postgres`) only by root."""
    ports = {address.port for address in addresses if address.port}
    paths = {address.path for address in addresses if address.path}
    inodes = set()
    for table in ("tcp", "tcp6"):
        for fields in proc_table(table):
            if fields[3] == TCP_LISTEN and int(fields[1].rsplit(":", 1)[1], 16) in ports:
                inodes.add(f"socket:[{fields[9]}]")
    for fields in proc_table("unix"):
        if len(fields) > 7 and fields[3] == UNIX_ACCEPTING and fields[7] in paths:
            inodes.add(f"socket:[{fields[6]}]")
    found = set()
    for entry in PROC.iterdir():
        if entry.name.isdigit() and inodes:
            with contextlib.suppress(OSError):
                if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                    found.add(int(entry.name))
    return found


def proc_table(name: str) -> list[list[str]]:
    """The rows of /proc/net/<name> (tcp, tcp6, unix), split, without their heading."""
    try:
        return [line.split() for line in (PROC / "net" / name).read_text().splitlines()[1:]]
    except OSError:
        return []


def installation_at(addresses: Iterable[Address], table: ProcessTable) -> set[int]:
    """The processes of the installation listening at `addresses` (its web processes, its PostgreSQL and Redis when on
    this machine) and the processes under them; under `gateway run`, everything it started (the stand-ins too)."""
    roots = listening_at(addresses)
    roots |= {parent for parent in (table.parents.get(pid, 0) for pid in roots)
              if kind_of(table.commands.get(parent, "")) == "gateway run"}
    return table.descendants(roots)
