"""Where a cluster's servers run: a `Hosts` gives each host name an address and starts a process on it.

Two kinds: the network namespaces of `bench.faults.network.topology.Network` (a host of its own each, with links a
partition can cut), and `LoopbackHosts` below, where each host is an address of the loopback network (127.0.0.0/8:
every address in it is this machine's), so the suite can run the smallest cluster that shows a failover without
being root. A host's processes can be killed together (`kill_host`), as a machine that dies takes all of them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class Hosts(Protocol):
    folder: Path  # where the servers keep their data and logs (a folder each)

    def address(self, host: str) -> str: ...

    def start(self, host: str, command: list[str], log: Path, env: dict[str, str] | None = None,
              cwd: Path = ...) -> subprocess.Popen[bytes]: ...


@dataclass
class LoopbackHosts:
    """Hosts as loopback addresses: `host_numbers` maps a name to n, its address 127.0.<block>.<n> (a block per test
    process, so two at once never meet)."""

    folder: Path
    host_numbers: dict[str, int]
    block: int = field(default_factory=lambda: 100 + os.getpid() % 150)
    processes: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)

    def address(self, host: str) -> str:
        return f"127.0.{self.block}.{self.host_numbers[host]}"

    def start(self, host: str, command: list[str], log: Path, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen[bytes]:
        """A process of the host, in a session of its own (so its whole group can be stopped)."""
        with log.open("ab") as output:
            process = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.processes.setdefault(host, []).append(process)
        return process

    def kill_host(self, host: str) -> None:
        """Every process of the host at once, as a machine that loses its power."""
        for process in self.processes.pop(host, []):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        for host in list(self.processes):
            for process in self.processes[host]:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
            for process in self.processes[host]:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        self.processes.clear()
