"""Hosts with networks of their own: a Linux network namespace each, joined by a router namespace whose forwarded
packets all go through the link emulator (bench/faults/network/emulator.py).

Each host has a veth pair to the router, 10.77.<n>.2/24 on its side and 10.77.<n>.1/24 on the router's, and a
default route through it. In the router, a rule sends every packet it would forward to the TUN device `emu0`, read
by the emulator; what the emulator writes back comes in on `emu0`, and a rule sends those by the main table's
routes, out by the right veth. Reverse-path filtering is off in the router (a packet written back comes in on
`emu0`, not on its source's veth). Without the emulator (`network_of(..., emulated=False)`: fast links that no
partition will cut) the router's kernel forwards every packet itself, no Python process in each packet's way.
Nothing is made in the machine's own namespace: every interface is made inside
the namespaces, and deleting them at the end (even after a failure or Ctrl-C) takes everything with them.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.faults.network.emulator import send
from bench.faults.network.links import LinkTable, address, router_address

ROOT = Path(__file__).resolve().parents[3]
TUN = "emu0"
CLONE_NEWNET = 0x40000000


def ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def write_sysctl(namespace: str, values: dict[str, str]) -> None:
    """Per-namespace settings (/proc/sys/net shows the namespace of whoever reads it)."""
    script = "; ".join(f"echo {value} > /proc/sys/{name.replace('.', '/')}" for name, value in values.items())
    subprocess.run(["ip", "netns", "exec", namespace, "sh", "-ec", script], check=True)


@dataclass
class Network:
    tag: str
    table: LinkTable
    folder: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def router(self) -> str:
        return f"ballot-{self.tag}-router"

    @property
    def control(self) -> Path:
        return self.folder / "links.sock"

    def namespace(self, host: str) -> str:
        return f"ballot-{self.tag}-{host}"

    def address(self, host: str) -> str:
        return address(self.table.hosts[host])

    def start(self, host: str, command: list[str], log: Path, env: dict[str, str] | None = None,
              cwd: Path = ROOT) -> subprocess.Popen[bytes]:
        """A process in the host's namespace, in a session of its own (so its whole group can be stopped)."""
        with log.open("ab") as output:  # the child has its own copy
            process = subprocess.Popen(["ip", "netns", "exec", self.namespace(host), *command], cwd=cwd, env=env,
                                       stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def pids(self, host: str) -> list[int]:
        """Every process whose network is the host's namespace."""
        return self.pids_by_host().get(host, [])

    def pids_by_host(self) -> dict[str, list[int]]:
        """Every process of the namespaces, by host ("router" for the router's), from one look at /proc (no
        `ip netns pids` process started: a measurement's reading costs no process of its own)."""
        names = {**{host: self.namespace(host) for host in self.table.hosts}, "router": self.router}
        by_namespace: dict[tuple[int, int], str] = {}
        for host, name in names.items():
            with contextlib.suppress(OSError):
                found = os.stat(f"/run/netns/{name}")
                by_namespace[found.st_dev, found.st_ino] = host
        pids: dict[str, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    network = os.stat(entry / "ns" / "net")
                    if (owner := by_namespace.get((network.st_dev, network.st_ino))) is not None:
                        pids.setdefault(owner, []).append(int(entry.name))
        return pids

    def links(self, **order: object) -> dict[str, Any]:
        """A command to the link emulator (see its docstring): cut, heal, shaping, table."""
        return send(self.control, order)


def build(network: Network, emulated: bool = True) -> None:
    for name in [network.router, *map(network.namespace, network.table.hosts)]:
        ip("netns", "add", name)
        ip("-n", name, "link", "set", "lo", "up")
    router = network.router
    write_sysctl(router, {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "0",
                          "net.ipv4.conf.default.rp_filter": "0", "net.ipv4.conf.all.send_redirects": "0",
                          "net.ipv4.conf.default.send_redirects": "0"})
    for host, number in network.table.hosts.items():
        namespace, veth = network.namespace(host), f"h{number}"
        ip("-n", router, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        ip("-n", router, "addr", "add", f"{router_address(number)}/24", "dev", veth)
        ip("-n", router, "link", "set", veth, "up")
        ip("-n", namespace, "addr", "add", f"{address(number)}/24", "dev", "eth0")
        ip("-n", namespace, "link", "set", "eth0", "up")
        ip("-n", namespace, "route", "add", "default", "via", router_address(number))
    if not emulated:
        return
    ip("-n", router, "tuntap", "add", "dev", TUN, "mode", "tun")
    ip("-n", router, "link", "set", TUN, "up")
    write_sysctl(router, {f"net.ipv4.conf.{TUN}.rp_filter": "0"})
    ip("-n", router, "route", "add", "default", "dev", TUN, "table", "200")
    ip("-n", router, "rule", "add", "iif", TUN, "lookup", "main", "priority", "100")  # written back: to its host
    ip("-n", router, "rule", "add", "lookup", "200", "priority", "200")  # anything else: into the emulator


def start_emulator(network: Network) -> None:
    table = network.folder / "links.json"
    table.write_text(json.dumps(network.table.as_json()))
    with (network.folder / "emulator.log").open("ab") as output:
        process = subprocess.Popen(
            ["ip", "netns", "exec", network.router, sys.executable, "-m", "bench.faults.network.emulator",
             "--tun", TUN, "--control", str(network.control), "--table", str(table)],
            cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    network.processes.append(process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the link emulator exited: {(network.folder / 'emulator.log').read_text()[-2000:]}")
        with contextlib.suppress(OSError):
            network.links(table=True)
            return
        time.sleep(0.05)
    raise RuntimeError("the link emulator did not answer in 15 s")


def stop(network: Network) -> None:
    """Stop every process of the namespaces (ours and what they started), then delete the namespaces."""
    for process in reversed(network.processes):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
    for process in reversed(network.processes):
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()  # reaped: a loaded machine's slow exit is no process left running
    for name in [*map(network.namespace, network.table.hosts), network.router]:
        left = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout.split()
        for pid in left:  # a daemon that left its session, e.g. a server's own children
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@contextlib.contextmanager
def hosts_folder(prefix: str, log_lines: int = 10) -> Iterator[Path]:
    """A scratch folder under /tmp for the hosts' data and logs: on a failure (or Ctrl-C) the end of every log in it
    is printed, then it is removed (BENCH_KEEP=1 keeps it)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    folder.chmod(0o755)  # PostgreSQL runs as its own user, under this folder
    try:
        yield folder
    except BaseException:
        for log in sorted(folder.glob("**/*.log")):  # why it failed, before the folder goes
            print(f"--- {log}:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-log_lines:]))
        raise
    finally:
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def network_of(table: LinkTable, folder: Path, emulated: bool = True) -> Iterator[Network]:
    """The namespaces, their links and the emulator (unless not `emulated`), torn down after; SIGTERM stops it as
    Ctrl-C does."""
    network = Network(f"{os.getpid() % 100000}", table, folder)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        build(network, emulated)
        if emulated:
            start_emulator(network)
        yield network
    finally:
        stop(network)
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def inside(network: Network, host: str) -> Iterator[None]:
    """This thread (and the threads it starts meanwhile) in a host's namespace: its sockets are that host's."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{network.namespace(host)}", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into the host's namespace")
        yield
    finally:
        libc.setns(home, CLONE_NEWNET)
        os.close(home)
        os.close(target)
