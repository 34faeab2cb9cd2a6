"""The link emulator: the router namespace sends every packet it forwards into a TUN device, and this process reads
each one, holds it for its link's delay (or loses it, see `links.fate`) and writes it back, from where the router's
routes take it to its host.

Why in user space: the kernel this runs on (and CI's) has no sch_netem, the qdisc that would add delay and loss
(`tc qdisc add ... netem` answers "Specified qdisc kind is unknown"), nor iptables/nftables to drop a pair's
packets; a TUN device and a routing rule are all it needs. Packets of one direction of a pair keep their order
(a queue each), so TCP sees a slow link, not a reordering one.

    ip netns exec <router> python -m bench.faults.network.emulator --tun emu0 --control SOCKET --table FILE

Control: one JSON object a line on the Unix socket (a path, so reachable from any namespace), answered with one:
`{"cut": [["web-a", "redis"]]}` cuts pairs, `{"heal": true}` mends them all, `{"shaping": true}` turns the delays
and losses on, `{"table": true}` asks for the table and the counts of packets passed and lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import random
import socket
import struct
import time
from collections import deque
from pathlib import Path
from typing import Any

from bench.faults.network.links import LinkTable, endpoints, fate

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
PACKETS_A_WAKE = 256  # read at most this many packets before letting the timers run


def open_tun(name: str) -> int:
    """Attach to the TUN device `name` of this namespace (made by `ip tuntap add`): raw IPv4 packets, no header."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


class Emulator:
    def __init__(self, fd: int, table: LinkTable, rng: random.Random | None = None) -> None:
        self.fd, self.table, self.rng = fd, table, rng or random.Random()
        self.queues: dict[tuple[int, int], deque[tuple[float, bytes]]] = {}
        self.passed = self.lost = 0
        self.loop = asyncio.get_running_loop()

    def readable(self) -> None:
        for _ in range(PACKETS_A_WAKE):
            try:
                packet = os.read(self.fd, 65535)
            except BlockingIOError:
                return
            self.take(packet)

    def take(self, packet: bytes) -> None:
        delay = fate(self.table, packet, self.rng.random())
        if delay is None:
            self.lost += 1
            return
        pair = endpoints(packet) or (0, 0)
        queue = self.queues.setdefault(pair, deque())
        due = self.loop.time() + delay
        if queue:
            queue.append((max(due, queue[-1][0]), packet))  # never ahead of the pair's earlier packets
            return
        queue.append((due, packet))
        self.loop.call_at(due, self.release, pair)

    def release(self, pair: tuple[int, int]) -> None:
        queue, now = self.queues[pair], self.loop.time()
        while queue and queue[0][0] <= now:
            with contextlib.suppress(OSError):  # the device's queue full: lost, as on a congested link
                os.write(self.fd, queue[0][1])
                self.passed += 1
            queue.popleft()
        if queue:
            self.loop.call_at(queue[0][0], self.release, pair)

    def command(self, order: dict[str, Any]) -> dict[str, Any]:
        if "cut" in order:
            self.table.cut |= {frozenset(pair) for pair in order["cut"]}
        if order.get("heal"):
            self.table.cut.clear()
        if "shaping" in order:
            self.table.shaping = bool(order["shaping"])
        return {**self.table.as_json(), "passed": self.passed, "lost": self.lost, "at": time.time()}


async def serve(tun: str, control: Path, table: LinkTable) -> None:
    fd = open_tun(tun)
    emulator = Emulator(fd, table)
    emulator.loop.add_reader(fd, emulator.readable)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                try:
                    reply = emulator.command(json.loads(line))
                except (ValueError, TypeError, KeyError) as exc:
                    reply = {"error": str(exc)}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        writer.close()

    control.unlink(missing_ok=True)
    server = await asyncio.start_unix_server(answer, path=str(control))
    async with server:
        await server.serve_forever()


def send(control: Path, order: dict[str, Any], timeout: float = 5) -> dict[str, Any]:
    """One command to a running emulator (from any namespace), and its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(control))
        sock.sendall(json.dumps(order).encode() + b"\n")
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    reply: dict[str, Any] = json.loads(answer)
    if "error" in reply:
        raise ValueError(f"the link emulator refused {order}: {reply['error']}")
    return reply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tun", required=True)
    parser.add_argument("--control", required=True, type=Path)
    parser.add_argument("--table", required=True, type=Path, help="the link table, as LinkTable.as_json writes it")
    args = parser.parse_args()
    table = LinkTable.from_json(json.loads(args.table.read_text()))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.tun, args.control, table))


if __name__ == "__main__":
    main()
