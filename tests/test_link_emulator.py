"""The link emulator of `python -m bench.faults network`: its decisions for each packet (delay, loss, partitions),
and packets really passed between two network namespaces through it."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
from pathlib import Path

import pytest

from bench.faults.network.links import Link, LinkTable, cut_pairs, endpoints, fate
from bench.faults.network.partitions import PARTITIONS, deployment
from bench.faults.network.topology import inside, network_of


def packet(source: str, destination: str) -> bytes:
    """An IPv4 header (enough for the emulator: it reads the version and the addresses)."""
    return bytes([0x45]) + bytes(11) + socket.inet_aton(source) + socket.inet_aton(destination)


def table() -> LinkTable:
    return LinkTable({"web": 1, "db": 2, "providers": 3}, Link(0.05), {"providers": Link(0.3, 0.01)}, shaping=True)


def test_a_packet_between_hosts_waits_its_links_delay_and_the_far_link_loses_its_share() -> None:
    links = table()
    assert fate(links, packet("10.77.1.2", "10.77.2.2"), draw=0.0) == 0.05  # the default link never loses
    assert fate(links, packet("10.77.3.2", "10.77.1.2"), draw=0.5) == 0.3  # the providers' link, either way
    assert fate(links, packet("10.77.1.2", "10.77.3.2"), draw=0.009) is None  # within its 1%: lost
    lost = sum(fate(links, packet("10.77.1.2", "10.77.3.2"), draw=i / 10_000) is None for i in range(10_000))
    assert lost == 100


def test_a_cut_pair_loses_everything_both_ways_and_nothing_else_is_touched() -> None:
    links = table()
    links.cut |= cut_pairs(links, "web", ["db"])
    assert fate(links, packet("10.77.1.2", "10.77.2.2"), draw=0.99) is None
    assert fate(links, packet("10.77.2.2", "10.77.1.2"), draw=0.99) is None
    assert fate(links, packet("10.77.1.2", "10.77.3.2"), draw=0.99) == 0.3
    links.cut |= cut_pairs(links, "providers")  # from everyone
    assert fate(links, packet("10.77.2.2", "10.77.3.2"), draw=0.99) is None


def test_before_shaping_the_links_are_fast_but_cuts_hold() -> None:
    links = table()
    links.shaping = False
    links.cut |= cut_pairs(links, "web", ["db"])
    assert fate(links, packet("10.77.1.2", "10.77.3.2"), draw=0.0) == 0.0
    assert fate(links, packet("10.77.1.2", "10.77.2.2"), draw=0.5) is None


def test_packets_of_no_host_pass_untouched() -> None:
    links = table()
    assert endpoints(packet("192.0.2.1", "10.77.1.2")) is None
    assert fate(links, packet("192.0.2.1", "10.77.1.2"), draw=0.0) == 0.0
    assert fate(links, bytes([0x60]) + bytes(39), draw=0.0) == 0.0  # IPv6
    assert fate(links, packet("10.77.9.2", "10.77.1.2"), draw=0.0) == 0.0  # not a host of the table


def test_the_table_survives_its_trip_to_the_emulator_process() -> None:
    links = table()
    links.cut |= cut_pairs(links, "web", ["db"])
    assert LinkTable.from_json(links.as_json()) == links


def test_each_partition_cuts_what_its_title_says() -> None:
    links = deployment()
    cuts = {partition.key: partition.pairs(links) for partition in PARTITIONS}
    assert cuts["a"] == [["redis", "web-a"]]
    assert cuts["b"] == [["db", "web-b"]]
    assert len(cuts["c"]) == len(links.hosts) - 1 and all("web-a" in pair for pair in cuts["c"])
    assert len(cuts["d"]) == len(links.hosts) - 1 and all("providers" in pair for pair in cuts["d"])


ECHO = """import socket, sys
server = socket.create_server((sys.argv[1], int(sys.argv[2])))
while True:
    connection, _ = server.accept()
    while data := connection.recv(100):
        connection.sendall(data)
"""


def round_trip(connection: socket.socket) -> float:
    started = time.monotonic()
    connection.sendall(b"x")
    assert connection.recv(10) == b"x"
    return time.monotonic() - started


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0 or not shutil.which("ip")
                    or not Path("/dev/net/tun").exists(), reason="network namespaces and TUN need root and iproute2")
def test_packets_between_two_namespaces_take_the_links_delay_and_a_partition_stops_them(tmp_path: Path) -> None:
    links = LinkTable({"client": 1, "server": 2}, Link(0.1), shaping=True)
    with network_of(links, tmp_path) as network:
        address = network.address("server")
        echo = network.start("server", [sys.executable, "-c", ECHO, address, "9000"], tmp_path / "echo.log")
        with inside(network, "client"):
            deadline = time.monotonic() + 10
            while True:
                try:
                    connection = socket.create_connection((address, 9000), timeout=2)
                    break
                except OSError:
                    assert echo.poll() is None and time.monotonic() < deadline, "the echo server did not listen"
                    time.sleep(0.1)
            with connection:
                trips = [round_trip(connection) for _ in range(3)]
                assert all(0.2 <= trip < 0.6 for trip in trips), trips  # 100 ms each way

                network.links(cut=[["client", "server"]])
                connection.settimeout(0.8)
                connection.sendall(b"y")
                with pytest.raises(TimeoutError):
                    connection.recv(10)

                network.links(heal=True)  # TCP sends it again: it arrives once the pair is mended
                connection.settimeout(5)
                assert connection.recv(10) == b"y"
        assert network.links(table=True)["lost"] > 0
    assert network.namespace("client") not in os.listdir("/run/netns")  # torn down
