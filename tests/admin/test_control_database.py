"""The control room's database line, read from PostgreSQL itself through the service's connection: a real primary
(pgserver's binaries, as its system user) with a synchronous standby and an asynchronous replica made by
`pg_basebackup -R`, each named as Patroni names its nodes (application_name), shown as an operator reads it, a
replica whose replay stops shown falling behind; and the suite's own single server shown as "One server, no standby"
on the page and in the API."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pgserver
import pytest
from aiohttp.test_utils import TestClient
from pgserver.utils import ensure_prefix_permissions  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from admin.control_database import DatabaseRoles, database_roles, roles_said
from assembly.operations.embedded_packages import add_system_user
from gateway.db.engine import Sessions
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, make_account
from tests.servers import free_port
from tests.waiting import HANG_SECONDS, wait_for

BINARIES = Path(pgserver.__file__).parent / "pginstall" / "bin"
USER = "pgserver"  # PostgreSQL refuses to run as root


def said(text: str) -> str:
    return text  # the English catalog: msgids are English


def psql(port: int, statement: str, user: str = "postgres") -> str:
    done = subprocess.run([str(BINARIES / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", "postgres",
                           "-Atqc", statement], capture_output=True, text=True, timeout=HANG_SECONDS)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def answers(port: int) -> bool:
    done = subprocess.run([str(BINARIES / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"],
                          capture_output=True, timeout=HANG_SECONDS)
    return done.returncode == 0


def start(data: Path, port: int, folder: Path) -> subprocess.Popen[bytes]:
    with (folder / f"{data.name}.log").open("ab") as log:  # the server keeps its own copy of the descriptor
        process = subprocess.Popen([str(BINARIES / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
                                    "-k", str(folder)], user=USER, stdout=log, stderr=log)
    wait_for(lambda: process.poll() is None and answers(port), f"{data.name} answering on {port}")
    return process


@pytest.fixture(scope="module")
def nodes() -> Iterator[dict[str, int]]:
    """pg1 the primary, pg2 its synchronous standby, pg3 an asynchronous replica, all streaming: their ports."""
    add_system_user()
    # The binaries run as that user: the folders above them must let it through (pgserver's own start does it too,
    # so this mattered only when nothing embedded had started yet, as in a clean clone's run on servers of CI's).
    ensure_prefix_permissions(BINARIES / "initdb")
    folder = Path(tempfile.mkdtemp(prefix="ballot-standbys-", dir="/tmp"))
    shutil.chown(folder, USER, USER)
    ports = {name: free_port() for name in ("pg1", "pg2", "pg3")}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run([str(BINARIES / "initdb"), "-D", str(folder / "pg1"), "--auth=trust", "-U", "postgres"],
                       check=True, capture_output=True, user=USER, cwd=folder)
        with (folder / "pg1" / "postgresql.conf").open("a") as conf:
            conf.write("synchronous_standby_names = 'pg2'\n")  # what Patroni writes for its sync standby
        processes.append(start(folder / "pg1", ports["pg1"], folder))
        for name in ("pg2", "pg3"):  # Patroni names each node's walsender by the node's name (application_name)
            subprocess.run([str(BINARIES / "pg_basebackup"), "-d",
                            f"host=127.0.0.1 port={ports['pg1']} user=postgres application_name={name}",
                            "-D", str(folder / name), "-R", "-X", "stream"],
                           check=True, capture_output=True, user=USER, cwd=folder)
            processes.append(start(folder / name, ports[name], folder))
        wait_for(lambda: psql(ports["pg1"], "SELECT string_agg(application_name || ':' || state, ',' ORDER BY 1) "
                                            "FROM pg_stat_replication") == "pg2:streaming,pg3:streaming",
                 "both standbys streaming")
        yield ports
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=HANG_SECONDS)
        shutil.rmtree(folder, ignore_errors=True)


async def roles_at(port: int, user: str = "postgres") -> DatabaseRoles:
    engine = create_async_engine(f"postgresql+asyncpg://{user}@127.0.0.1:{port}/postgres")
    try:
        async with AsyncSession(engine) as session:
            return await database_roles(session)
    finally:
        await engine.dispose()


async def test_the_primary_its_sync_standby_and_its_replica_as_postgresql_says_them(nodes: dict[str, int]) -> None:
    roles = await roles_at(nodes["pg1"])
    assert (roles.in_recovery, roles.address, roles.synchronous) == (False, "127.0.0.1", True)
    assert [(s.name, s.state, s.synchronous) for s in roles.standbys] == [
        ("pg2", "streaming", True), ("pg3", "streaming", False)]
    assert re.fullmatch(r"Primary 127\.0\.0\.1 · sync standby pg2 lag \d+\.\d s · replica pg3 lag \d+\.\d s",
                        roles_said(said, roles)), roles_said(said, roles)


async def test_a_replica_whose_replay_stops_shows_its_lag_growing(nodes: dict[str, int]) -> None:
    psql(nodes["pg3"], "SELECT pg_wal_replay_pause()")
    try:
        psql(nodes["pg1"], "CREATE TABLE IF NOT EXISTS written (n int); INSERT INTO written VALUES (1)")
        deadline = time.monotonic() + HANG_SECONDS
        while (lag := {s.name: s.lag_seconds for s in (await roles_at(nodes["pg1"])).standbys}["pg3"] or 0) < 1:
            assert time.monotonic() < deadline, "pg3's replay_lag never grew"
            psql(nodes["pg1"], "INSERT INTO written VALUES (1)")  # each commit waits for pg2, not for pg3
        line = roles_said(said, await roles_at(nodes["pg1"]))
        assert re.search(r"replica pg3 lag [1-9]\d*\.\d s$", line), line
        assert lag >= 1
    finally:
        psql(nodes["pg3"], "SELECT pg_wal_replay_resume()")


def test_a_primary_whose_commits_wait_for_a_standby_that_is_gone_says_so() -> None:
    """Patroni's strict synchronous mode with no standby left: synchronous_standby_names '*', nothing streaming."""
    assert roles_said(said, DatabaseRoles(address="10.0.0.2", synchronous=True)) == (
        "Primary 10.0.0.2 · no standby streaming: every commit waits for one")
    assert roles_said(said, DatabaseRoles(address="10.0.0.2")) == "One server, no standby"


async def test_a_connection_that_reaches_a_standby_says_its_writes_fail(nodes: dict[str, int]) -> None:
    roles = await roles_at(nodes["pg2"])
    assert roles.in_recovery and roles.standbys == ()
    assert roles_said(said, roles) == (
        "The service's connection reaches a standby in recovery, not a primary: its writes fail.")


async def test_a_role_without_pg_monitor_sees_its_standbys_without_their_state(nodes: dict[str, int]) -> None:
    psql(nodes["pg1"], "DROP ROLE IF EXISTS watcher; CREATE ROLE watcher LOGIN")
    roles = await roles_at(nodes["pg1"], user="watcher")
    assert roles_said(said, roles) == (
        "Primary 127.0.0.1 · standby pg2, its state hidden from the service's role (grant it pg_monitor) · "
        "standby pg3, its state hidden from the service's role (grant it pg_monitor)")


async def test_the_suites_single_server_is_one_server_with_no_standby(client: TestClient, sessions: Sessions) -> None:
    owner = await make_account(sessions, "owner")
    room = await (await client.get("/api/v1/admin/control", headers=bearer(await api_tokens(client, owner)))).json()
    assert room["database"] | {"address": None} == {"in_recovery": False, "address": None, "synchronous": False,
                                                   "standbys": []}
    await browser_sign_in(client, owner)
    page = await (await client.get("/admin/control")).text()
    assert re.search(r'<section id="database"><h2>Database</h2><p data-standbys="0">One server, no standby</p>', page)
    french = await (await client.get("/admin/control", headers={"Accept-Language": "fr"})).text()
    assert "Un seul serveur, sans secours" in french
