"""The service started on a folder restored by hand (the newest base backup unpacked, `recovery.signal`, the archive's
`restore_command`): the embedded PostgreSQL replays the archive, is promoted, and stops with the service; Ctrl-C while
it replays stops it too. `pg_ctl start` returns before the server's pid file exists: the start once took that moment
for a server that had stopped, failed, and left the server it had started running, with nobody to stop it.

The installations restored are made once for the module (a new cluster, its base backup, notes archived: most of a
test's time) and each test is given a copy of one, where it was made."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from assembly.commands.backup import EMBEDDED_DATABASE, EMBEDDED_ROLE
from assembly.machine.embedded import EmbeddedPostgres
from assembly.operations.restore import restore_folder
from assembly.operations.restored_folder import StartStopped, postmaster
from gateway.db.engine import create_engine
from tests.restored_folders import (
    Installation,
    archive_now,
    copy_of,
    kill_postgres_on,
    postgres_processes_on,
    restore_by_hand,
    scratch_folder,
)
from tests.waiting import HANG_SECONDS

STOPPED_WITHIN = 30.0  # a fast shutdown of a server replaying, on a loaded machine
RAISED_TO = 150  # max_connections, raised after the base backup from PostgreSQL's default, 100


@pytest.fixture(scope="module")
def module_scratch() -> Iterator[Path]:
    yield from scratch_folder()


@pytest.fixture(scope="module")
async def made(module_scratch: Path) -> Path:
    """`make run`'s PostgreSQL, started once (its base backup taken), a note written after the backup and archived,
    then stopped: what a restore by hand brings back. Kept aside, for `installation` to copy."""
    live = Installation(module_scratch / "live")
    await note_archived(live.server(), "counted after the base backup")
    return live.keep_as(module_scratch / "made")


@pytest.fixture(scope="module")
async def made_raised(module_scratch: Path, made: Path) -> Path:
    """That installation, whose base backup allows PostgreSQL's default, 100, then started allowing 150 (a note
    written and archived): PostgreSQL writes the change into the WAL a restore replays. Kept aside likewise."""
    live = copy_of(made, module_scratch / "live")
    await note_archived(live.server(max_connections=RAISED_TO), f"counted once it allowed {RAISED_TO}")
    return live.keep_as(module_scratch / "made-raised")


@pytest.fixture
def installation(module_scratch: Path, made: Path) -> Installation:
    return copy_of(made, module_scratch / "live")


@pytest.fixture
def raised(module_scratch: Path, made_raised: Path) -> Installation:
    return copy_of(made_raised, module_scratch / "live")


async def read_notes(url: str) -> list[str]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return list((await connection.scalars(text("SELECT note FROM notes ORDER BY note"))).all())
    finally:
        await engine.dispose()


async def write_note(url: str, note: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE IF NOT EXISTS notes (note text)"))
            await connection.execute(text("INSERT INTO notes VALUES (:note)"), {"note": note})
    finally:
        await engine.dispose()


async def note_archived(server: EmbeddedPostgres, note: str) -> None:
    """The server started, a note written and its WAL archived, the server stopped."""
    url = await asyncio.to_thread(server.start)
    try:
        await write_note(url, note)
        await archive_now(url)
    finally:
        await asyncio.to_thread(server.stop)


async def test_the_service_starts_on_a_folder_restored_by_hand_with_its_data_and_leaves_no_server(
        installation: Installation) -> None:
    server, pgdata = installation.server(), installation.pgdata
    restore_by_hand(pgdata, installation.backups)
    try:
        url = await asyncio.to_thread(server.start)
        assert await read_notes(url) == ["counted after the base backup"]
        await write_note(url, "counted on the new timeline")  # promoted: open for writes
        await asyncio.to_thread(server.stop)
        assert not postgres_processes_on(pgdata), "PostgreSQL outlived the service"
    finally:
        await asyncio.to_thread(server.stop)
        assert not kill_postgres_on(pgdata), "PostgreSQL was left running"


async def test_ctrl_c_while_the_restored_folder_replays_stops_its_server(installation: Installation) -> None:
    server, pgdata = installation.server(), installation.pgdata
    go = installation.folder / "go"  # the archive never answers until the test ends: the replay waits
    restore_by_hand(pgdata, installation.backups, f"while [ ! -e {go} ]; do sleep 0.1; done; false")
    asked = threading.Event()
    outcome: list[BaseException | str] = []

    def start() -> None:
        try:
            outcome.append(server.start(asked.is_set))
        except BaseException as exc:  # the start's outcome, whatever it is
            outcome.append(exc)

    starting = threading.Thread(target=start)
    try:
        starting.start()
        deadline = time.monotonic() + 60
        while postmaster(pgdata) is None:
            assert time.monotonic() < deadline and starting.is_alive(), f"no server replaying: {outcome}"
            await asyncio.sleep(0.1)
        asked.set()  # Ctrl-C
        stopped_at = time.monotonic()
        await asyncio.to_thread(starting.join, STOPPED_WITHIN)
        assert not starting.is_alive(), f"the start still waits {STOPPED_WITHIN} s after Ctrl-C"
        assert isinstance(outcome[0], StartStopped), outcome
        assert "the next start goes on with the replay" in str(outcome[0])
        while postgres_processes_on(pgdata):
            assert time.monotonic() - stopped_at < STOPPED_WITHIN, "the replaying server outlived Ctrl-C"
            await asyncio.sleep(0.1)
    finally:
        asked.set()
        go.touch()
        await asyncio.to_thread(starting.join, 60)
        await asyncio.to_thread(server.stop)
        kill_postgres_on(pgdata)


async def notes_once_started(raised: Installation) -> list[str]:
    """The notes a restored folder holds once the service's server (allowing as many connections as before) has
    started on it, the server stopped after."""
    server = raised.server(max_connections=RAISED_TO)
    try:
        return await read_notes(await asyncio.to_thread(server.start))
    finally:
        await asyncio.to_thread(server.stop)
        assert not kill_postgres_on(raised.pgdata), "PostgreSQL was left running"


async def test_a_folder_restored_by_hand_replays_through_connections_raised_after_its_base_backup(
        raised: Installation) -> None:
    """The service raises PostgreSQL's max_connections to what its processes may hold (more web processes, or an
    installation's first start since the figure), which PostgreSQL writes into the WAL: a replay from a base backup
    taken before it comes through it and is promoted, rather than pausing for good on the server's lower figure."""
    restore_by_hand(raised.pgdata, raised.backups)
    assert await notes_once_started(raised) == ["counted after the base backup", f"counted once it allowed {RAISED_TO}"]


async def test_gateway_restore_replays_through_connections_raised_after_its_base_backup(raised: Installation) -> None:
    """`gateway restore` likewise: it replays the same WAL on a server of its own before the service starts."""
    report = await restore_folder(raised.backups, raised.pgdata, None, EMBEDDED_ROLE, EMBEDDED_DATABASE,
                                  timeout=HANG_SECONDS)
    assert report.timeline == 2 and report.set_aside is not None
    assert await notes_once_started(raised) == ["counted after the base backup", f"counted once it allowed {RAISED_TO}"]
