"""The benchmarks' harness (bench/harness.py) as a person running `python -m bench.faults` meets it."""

from __future__ import annotations

from collections import deque

import pytest

from bench.cluster.server_processes import DEFAULT_PORTS
from bench.cluster.server_processes import free_port as cluster_port
from bench.harness import free_port, running_stack


def test_a_stack_that_cannot_start_says_why_before_its_folder_is_removed() -> None:
    """The stack's folder, its log with it, is gone once the run ends: the failure must carry the log's words."""
    with pytest.raises(RuntimeError) as failed, running_stack(extra_env={"GATEWAY_ENV": "production"}):
        pass
    assert "the stack exited" in str(failed.value)
    assert "DATABASE_URL and REDIS_URL must be set in production" in str(failed.value)


def test_ports_handed_out_in_a_row_are_never_the_same_one() -> None:
    """Servers started together (a balancer's primary and replica listens, a node's PostgreSQL and REST ports) each
    get a port of their own: the kernel's pick repeats a recent one every few hundred picks here."""
    recent: deque[int] = deque(maxlen=64)
    for n in range(3000):
        port = (free_port, cluster_port)[n % 2]()
        assert port not in recent and port not in DEFAULT_PORTS
        recent.append(port)
