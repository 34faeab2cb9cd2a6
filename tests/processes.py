"""Real processes as /proc shows them, for tests that kill some and look for what is left."""

from __future__ import annotations

import os
from pathlib import Path


def _stat(pid: int | str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name: state, parent, group, …"""
    # Bytes, opened plainly: the tests poll this for every process of a busy machine, and a pathlib text read cost
    # three times as much (its decoder and locale look-up, each time).
    with open(f"/proc/{pid}/stat", "rb") as file:
        return file.read().rsplit(b")", 1)[1].decode().split()


def _process_ids() -> list[str]:
    return [name for name in os.listdir("/proc") if name.isdigit()]


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped is not)."""
    try:
        return _stat(pid)[0] != "Z"
    except OSError:
        return False


def _command_line(pid: str) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as file:
        return file.read().replace(b"\0", b" ").decode()


def child_of(pid: int, command: str) -> int | None:
    """A child process of `pid` whose command line contains `command`."""
    for proc in _process_ids():
        try:  # the command line read for a child only: the tests poll this, on a machine of hundreds of processes
            if int(_stat(proc)[1]) == pid and command in _command_line(proc):
                return int(proc)
        except OSError:
            continue
    return None


def children_of(pid: int, command: str) -> list[int]:
    """Every child process of `pid` whose command line contains `command`, running (not a zombie)."""
    found = []
    for proc in _process_ids():
        try:  # as in child_of, the command line read for a running child only
            stat = _stat(proc)
            if int(stat[1]) == pid and stat[0] != "Z" and command in _command_line(proc):
                found.append(int(proc))
        except OSError:
            continue
    return sorted(found)


LISTEN = "0A"  # a socket's state in /proc/net/tcp


def listening_on(pid: int, port: int) -> bool:
    """Whether the process holds a socket listening on `port` (its own, beside others on it with SO_REUSEPORT)."""
    try:
        sockets = {link.readlink().name for link in (Path("/proc") / str(pid) / "fd").iterdir()}
    except OSError:
        return False
    # IPv4's table first, IPv6's only if need be: the kernel walks the machine's sockets to write each one (some 5 ms
    # apiece on a busy machine), and the tests poll this.
    for name in ("tcp", "tcp6"):
        try:
            table = (Path("/proc") / str(pid) / "net" / name).read_text()
        except OSError:
            return False
        for line in table.splitlines()[1:]:
            fields = line.split()
            if (int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == LISTEN
                    and f"socket:[{fields[9]}]" in sockets):
                return True
    return False
