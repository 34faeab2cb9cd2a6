"""Real processes as /proc shows them, for tests that kill some and look for what is left."""

from __future__ import annotations

from pathlib import Path


def _stat(pid: int | str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name: state, parent, group, …"""
    return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped is not)."""
    try:
        return _stat(pid)[0] != "Z"
    except OSError:
        return False


def child_of(pid: int, command: str) -> int | None:
    """A child process of `pid` whose command line contains `command`."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            parent = int(_stat(proc.name)[1])
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if parent == pid and command in cmdline:
            return int(proc.name)
    return None


def children_of(pid: int, command: str) -> list[int]:
    """Every child process of `pid` whose command line contains `command`, running (not a zombie)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            stat = _stat(proc.name)
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat[1]) == pid and stat[0] != "Z" and command in cmdline:
            found.append(int(proc.name))
    return sorted(found)


LISTEN = "0A"  # a socket's state in /proc/net/tcp


def listening_on(pid: int, port: int) -> bool:
    """Whether the process holds a socket listening on `port` (its own, beside others on it with SO_REUSEPORT)."""
    try:
        tables = [(Path("/proc") / str(pid) / "net" / name).read_text() for name in ("tcp", "tcp6")]
        sockets = {link.readlink().name for link in (Path("/proc") / str(pid) / "fd").iterdir()}
    except OSError:
        return False
    for line in (line for table in tables for line in table.splitlines()[1:]):
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == LISTEN and f"socket:[{fields[9]}]" in sockets:
            return True
    return False
