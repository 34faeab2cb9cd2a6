"""The processes of a cluster's servers: a free port, waiting for one to listen, signalling a process and what it
started, and PostgreSQL's postmaster found by its data folder (Patroni starts it in a session of its own, and it is
not Patroni's child: killing Patroni's process group leaves it running)."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

from bench import harness

DEFAULT_PORTS = {5432, 2379, 2380, 8008, 5000, 5001}  # what a machine's own servers may listen on


def free_port() -> int:
    """A TCP port nothing listens on right now, never a default one of PostgreSQL, etcd, Patroni or the balancer, nor
    one handed out lately (bench.harness.free_port)."""
    return harness.free_port(avoid=DEFAULT_PORTS)


def log_tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"


def wait_listening(address: str, port: int, process: subprocess.Popen[bytes] | None, log: Path,
                   timeout: float) -> None:
    """Until a connection to address:port is accepted; RuntimeError with the log's end if the process exits or time
    runs out."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=1):
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{log.parent.name}: exited ({process.returncode}):\n{log_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{log.parent.name}: not listening on {address}:{port} in {timeout:.0f} s:\n"
                               f"{log_tail(log)}")
        time.sleep(0.1)


def postmaster_pids(data_dir: Path) -> list[int]:
    """The postmaster running on `data_dir` (its postmaster.pid's first line, if that process is a postgres)."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        running = psutil.Process(pid)
        if "postgres" in running.name() and running.status() != psutil.STATUS_ZOMBIE:
            return [pid]
    except (OSError, ValueError, psutil.Error):
        pass
    return []


def signal_tree(pids: Iterable[int], signum: signal.Signals) -> None:
    """The signal to each process and every descendant of it (PostgreSQL's backends, Patroni's helpers), children
    first found, so none forks away meanwhile unseen."""
    for pid in pids:
        try:
            found = psutil.Process(pid)
            tree = [found, *found.children(recursive=True)]
        except psutil.Error:
            continue
        for process in tree:
            with contextlib.suppress(psutil.Error):
                process.send_signal(signum)


def stop_processes(processes: Iterable[subprocess.Popen[bytes]], grace: float = 10) -> None:
    """SIGTERM to each process and its descendants, all at once (each stops in its own time, not one after the
    other), SIGKILL to those still running `grace` seconds later; all reaped."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        signal_tree([process.pid], signal.SIGCONT)
        signal_tree([process.pid], signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            signal_tree([process.pid], signal.SIGKILL)
            process.wait()
