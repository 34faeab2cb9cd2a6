"""The embedded PostgreSQL takes every connection the installation's processes may hold at once: PostgreSQL's own
default (100) is less than the pools of the default installation (one web process, four workers, a media worker),
and each web process added for a core adds 36 more, so a busy show would have met "too many clients"."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import asyncpg
import pytest

from assembly.commands.services import with_services
from assembly.machine.database_connections import WEB_PROCESS_CONNECTIONS, most_connections
from assembly.settings import Settings
from tests.restored_folders import scratch_folder


@pytest.fixture
def scratch() -> Iterator[Path]:
    yield from scratch_folder()


@pytest.fixture
def environment_kept() -> Iterator[None]:
    """A command's servers are handed to its children through the environment: this process's is put back."""
    kept = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(kept)


async def test_a_commands_embedded_server_takes_every_connection_two_web_processes_and_the_workers_may_hold(
        settings: Settings, scratch: Path, environment_kept: None) -> None:
    two_cores = settings.model_copy(update={
        "gateway_web_processes": 2, "gateway_worker_processes": 4, "media_workers": 1, "database_url": None,
        "redis_url": "redis://127.0.0.1:1/0", "gateway_data_dir": scratch / "var"})  # only PostgreSQL embedded
    most = most_connections(two_cores)
    assert most >= 2 * WEB_PROCESS_CONNECTIONS + 5 * 10 > 100
    for _ in range(2):  # its first start sets the figure; the next finds it set
        with ExitStack() as stack:
            url = with_services(two_cores, stack).database_url
            assert url is not None
            held = await asyncio.gather(*(asyncpg.connect(url) for _ in range(most)))
            try:
                assert len(held) == most
            finally:
                await asyncio.gather(*(connection.close() for connection in held))
