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
