"""The service on a PostgreSQL that replays a restore: before the replay is consistent the server refuses every
connection ("the database system is starting up"), and `make run` and `gateway migrate` exited
there with a traceback rather than waiting for it; Ctrl-C during that wait then started every web process and
worker only to stop them. The server here is a real one that stays there: a base backup unpacked without the WAL
streamed with it, as a standby whose archive holds nothing until the test gives it that WAL."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from assembly.operations.backups import (
    TAR_FILTER,
    BackupPlace,
    Throwaway,
    binaries_for,
    free_port,
    give_to,
    run_tool,
    server_user,
    take_base_backup,
    unpack,
)
from assembly.operations.restore import wait_until_writable
from assembly.settings import Settings
from gateway.db.engine import create_engine
from tests.restored_folders import scratch_folder

STARTED_WITHIN = 60.0  # a server's start, or its promotion, on a loaded machine


@pytest.fixture
def scratch() -> Iterator[Path]:
    yield from scratch_folder()


@dataclass
class Replaying:
    """A standby that refuses connections until it is given the WAL its base backup needs to be consistent."""

    server: Throwaway
    held_wal: Path
    archive: Path

    @property
    def url(self) -> str:
        return self.server.url("postgres", "postgres")

    def give_wal(self) -> None:
        with tarfile.open(self.held_wal) as tar:
            tar.extractall(self.archive, **TAR_FILTER)  # type: ignore[arg-type]
        give_to(self.archive, self.server.user)

    def promote(self) -> None:
        run_tool([self.server.bin_dir / "pg_ctl", "-D", self.server.data, "-w", "promote"], user=self.server.user)


async def answer(url: str) -> str:
    """'refused' (57P03: starting up, not yet consistent), 'read-only' (in recovery), 'writable', or 'down'."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return "read-only" if await connection.scalar(text("SELECT pg_is_in_recovery()")) else "writable"
    except DBAPIError as exc:
        return "refused" if getattr(exc.orig, "sqlstate", None) == "57P03" else f"down: {exc}"
    except OSError as exc:
        return f"down: {exc}"
    finally:
        await engine.dispose()


async def until_answers(url: str, wanted: str) -> None:
    deadline = time.monotonic() + STARTED_WITHIN
    while (got := await answer(url)) != wanted:
        assert time.monotonic() < deadline, f"the server answers {got!r}, not {wanted!r}"
        await asyncio.sleep(0.2)


@pytest.fixture
async def replaying(scratch: Path) -> AsyncIterator[Replaying]:
    bin_dir, user = binaries_for(None, None), server_user()
    source, standby = Throwaway.make(bin_dir, free_port(), user), Throwaway.make(bin_dir, free_port(), user)
    archive = scratch / "archive"
    archive.mkdir()
    try:
        await asyncio.to_thread(source.initdb)
        source.configure({})
        await asyncio.to_thread(source.start, STARTED_WITHIN)
        base = take_base_backup(source.url("postgres", "postgres"), BackupPlace(scratch / "backups"), bin_dir)
        held = shutil.move(base / "pg_wal.tar.gz", scratch / "held-wal.tar.gz")
        await asyncio.to_thread(unpack, base, standby.data)
        standby.configure({"restore_command": f"cp {archive}/%f %p"})
        (standby.data / "standby.signal").touch()
        give_to(standby.root, user)
        give_to(archive, user)
        run_tool([bin_dir / "pg_ctl", "-D", standby.data, "-l", standby.root / "server.log", "-W", "start"], user=user)
        replaying = Replaying(standby, Path(held), archive)
        await until_answers(replaying.url, "refused")
        yield replaying
    finally:
        await asyncio.to_thread(source.remove)
        await asyncio.to_thread(standby.remove)


async def test_the_service_waits_while_postgres_refuses_connections_as_it_replays_and_starts_once_promoted(
        replaying: Replaying, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "assembly.operations.restore")
    waiting = asyncio.create_task(wait_until_writable(replaying.url))
    try:
        deadline = time.monotonic() + STARTED_WITHIN
        while "not accepting connections yet: " not in caplog.text:
            assert not waiting.done(), waiting.exception() if waiting.done() else None
            assert time.monotonic() < deadline, f"the wait never said why it waits:\n{caplog.text}"
            await asyncio.sleep(0.1)
        assert "the database system is" in caplog.text  # what the server answered
        await asyncio.to_thread(replaying.give_wal)
        await until_answers(replaying.url, "read-only")  # consistent: open for reads, still replaying
        assert not waiting.done()
        await asyncio.to_thread(replaying.promote)
        assert await asyncio.wait_for(waiting, STARTED_WITHIN) is True
        assert "PostgreSQL is promoted" in caplog.text
    finally:
        waiting.cancel()


async def test_a_stop_while_waiting_ends_the_wait(replaying: Replaying) -> None:
    asked = asyncio.Event()
    waiting = asyncio.create_task(wait_until_writable(replaying.url, asked.is_set))
    await asyncio.sleep(0)
    asked.set()
    assert await asyncio.wait_for(waiting, STARTED_WITHIN) is False


def test_ctrl_c_while_the_database_replays_starts_no_process(replaying: Replaying, settings: Settings,
                                                              scratch: Path) -> None:
    """`gateway run` on a server still replaying: Ctrl-C during the wait stops it, and nothing was started (the
    stand-ins, the workers and the web processes once started, only to be stopped at once)."""
    env = {**os.environ, "DATABASE_URL": replaying.url, "REDIS_URL": settings.redis_url or "", "LOG_JSON": "false",
           "GATEWAY_DATA_DIR": str(scratch / "var"), "GATEWAY_PORT": str(free_port())}
    for name in ("SANDBOX_URL", "AT_FAKE_URL", "TELEGRAM_FAKE_API_URL", "MEDIA_UPLOAD_URL", "MEDIA_FILES_URL"):
        env[name] = f"http://127.0.0.1:{free_port()}"  # its own, in case it started them all the same
    process = subprocess.Popen([sys.executable, "-m", "assembly.cli", "run"], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        with process.stdout:
            lines.extend(process.stdout)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    started: set[str] = set()
    try:
        deadline = time.monotonic() + STARTED_WITHIN
        while not any("not accepting connections yet" in line for line in lines):
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        supervisor = psutil.Process(process.pid)
        while process.poll() is None:  # whatever it starts now, seen before it is stopped again
            started |= started_by(supervisor)
        process.wait(STARTED_WITHIN)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(10)
    assert process.returncode == 0, "".join(lines)
    assert "Ballot stopped." in "".join(lines)
    assert not started, started


def started_by(process: psutil.Process) -> set[str]:
    """The command lines of the processes it runs now (those gone as they are read, by their pid)."""
    found = set()
    try:
        children = process.children(recursive=True)
    except psutil.NoSuchProcess:
        return set()
    for child in children:
        try:
            found.add(" ".join(child.cmdline()))
        except psutil.Error:
            found.add(f"pid {child.pid}")
    return found
