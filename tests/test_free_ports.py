"""The ports the suite starts its servers on: free, never among those the kernel hands out by itself (an outgoing
connection could take one between the look and the server's start), and each pytest-xdist process's apart."""

from __future__ import annotations

import socket

from tests.servers import TEST_REDIS_DBS, free_port, kernels_own_ports, ports_of


def test_a_free_port_is_none_the_kernel_could_give_a_connection_meanwhile() -> None:
    ports = {free_port() for _ in range(50)}
    assert not ports & set(kernels_own_ports())
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # free indeed


def test_each_test_process_has_ports_of_its_own() -> None:
    shares = [{free_port(f"gw{number}") for _ in range(30)} for number in range(len(TEST_REDIS_DBS))]
    for lower, higher in zip(shares, shares[1:], strict=False):
        assert max(lower) < min(higher)


def test_a_port_something_listens_on_is_not_offered() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", free_port()))
        listening.listen()
        taken = listening.getsockname()[1]
        assert taken not in {free_port() for _ in range(300)}


def test_no_process_is_handed_a_port_the_machines_own_servers_listen_on_by_default() -> None:
    """Redis Sentinel's 26379 fell in a process's share, and a fail-over test's Redis group, handed it, refused to
    start there."""
    for number in range(len(TEST_REDIS_DBS)):
        offered = set(ports_of(f"gw{number}"))
        assert not offered & {6379, 26379, 5432, 25672, 27017}
        assert len(offered) > 1000  # still a share to pick from
