"""Backups and the restore drill, on real servers: a throwaway PostgreSQL of the test's own (archiving into a
folder of its own: the suite's shared server, or CI's, is never reconfigured), base backups by `gateway backup
base`, and `gateway drill restore` into a fresh server as an operator runs it."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from assembly.channel_list import MIGRATIONS
from assembly.machine.embedded import EmbeddedPostgres
from assembly.operations.backups import (
    ARCHIVE_TIMEOUT_SECONDS,
    BackupError,
    BackupPlace,
    Throwaway,
    archive_command,
    archive_settings,
    base_to_restore,
    binaries_for,
    free_port,
    server_user,
)
from assembly.settings import Settings
from gateway.core.orders import counting
from gateway.core.results import ledger, signing
from gateway.db.engine import Sessions, create_engine, session_factory
from gateway.db.migrate import upgrade_async
from gateway.db.models import Contest
from tests.commands import gateway
from tests.factories import RULES_OFF, TEST_RESULTS_KEY, make_contest, place, tallies
from tests.restored_folders import shown


@dataclass
class Source:
    """The live installation of the drill: its server, its backups' folder, and what a CLI run of it is given."""

    server: Throwaway
    backups: BackupPlace
    url: str
    env: dict[str, str]


@pytest.fixture
def scratch() -> Iterator[Path]:
    # Not under pytest's temporary root (0700, root's): the server's own user writes the archive here.
    folder = Path(tempfile.mkdtemp(prefix="ballot-drill-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def source(settings: Settings, scratch: Path) -> AsyncIterator[Source]:
    bin_dir = binaries_for(None, None)
    user = server_user()
    backups = BackupPlace(scratch / "backups")
    backups.wal.mkdir(parents=True)
    if user is not None:
        shutil.chown(backups.wal, user, user)
    server = Throwaway.make(bin_dir, free_port(), user)
    try:
        await asyncio.to_thread(server.initdb)
        server.configure(archive_settings(backups.wal))
        await asyncio.to_thread(server.start, 60)
        engine = create_engine(server.url("postgres", "postgres"), pool_size=1)
        async with engine.connect() as connection:
            await (await connection.execution_options(isolation_level="AUTOCOMMIT")).execute(
                text("CREATE DATABASE gateway"))
        await engine.dispose()
        url = server.url("postgres", "gateway")
        await upgrade_async(url, MIGRATIONS)
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": settings.redis_url or "", "LOG_JSON": "false",
               "BACKUP_DIR": str(backups.root), "POSTGRES_BIN_DIR": str(bin_dir)}
        yield Source(server, backups, url, env)
    finally:
        await asyncio.to_thread(server.remove)


async def vote(sessions: Sessions, contest: Contest, votes: list[tuple[str, int]], reference: str) -> None:
    for i, (code, quantity) in enumerate(votes):
        order = await place(sessions, contest, code, quantity=quantity)
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency,
                                       f"{reference}{i}", provider=order.provider)


async def archive_now(sessions: Sessions) -> None:
    """Switch to a new WAL segment and wait until the one just finished is in the archive (as the archive's
    time-out would do within a minute)."""
    async with sessions() as session:
        segment = await session.scalar(text("SELECT pg_walfile_name(pg_switch_wal())"))
        await session.commit()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            archived = await session.scalar(text("SELECT last_archived_wal FROM pg_stat_archiver"))
            await session.commit()
            if archived is not None and archived >= segment:
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"segment {segment} was not archived within 30 s")


async def a_second_later() -> datetime:
    """The last moment of the clock's present second, once it is past: whatever committed before this call did so
    before it, whatever commits after it does in a later second (the drill prints its recovery point to the
    second)."""
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1, microseconds=-1)
    while (left := (moment - datetime.now(UTC)).total_seconds()) >= 0:
        await asyncio.sleep(left + 0.001)
    return moment


def drill(env: dict[str, str], *args: str) -> tuple[int, str]:
    done = gateway("drill", "restore", *args, env=env, timeout=300)
    return done.returncode, done.stdout + done.stderr


async def test_a_drill_restores_the_votes_counted_after_the_base_backup_and_to_a_time_without_them(
        source: Source, redis: Redis) -> None:
    engine = create_engine(source.url, pool_size=2)
    sessions = session_factory(engine)
    try:
        contest = await make_contest(sessions, slug="gala", fraud_rules=RULES_OFF)
        await vote(sessions, contest, [("01", 3), ("02", 5)], "before")
        async with sessions.begin() as session:
            await ledger.take_checkpoint(session, contest.id, "hourly")
        await signing.sign_results(sessions, signing.private_key(TEST_RESULTS_KEY), contest.id, reason="on_demand",
                                   signed_by="test")
        backed_up = gateway("backup", "base", env=source.env)
        assert backed_up.returncode == 0, backed_up.stderr
        assert "base backup" in backed_up.stdout
        between = await a_second_later()  # the time the second drill stops at: the votes below commit after it
        await vote(sessions, contest, [("01", 2), ("03", 4)], "after")
        assert await tallies(sessions, contest.id) == {"01": 5, "02": 5, "03": 4, "04": 0, "05": 0}
        await archive_now(sessions)
        last_vote_at = datetime.now(UTC)
    finally:
        await engine.dispose()

    code, out = drill(source.env, "--boards-redis", source.env["REDIS_URL"])
    assert code == 0, out
    assert "gala: ledger ok, 4 entries" in out
    assert "tallies from the ledger: 01=5, 02=5, 03=4" in out
    assert "board rebuilt: 01=5, 02=5, 03=4 (the same)" in out
    assert "last checkpoint: hourly of" in out and "at entry 2, matches the chain; 2 entries since" in out
    assert "last signed sheet: on_demand of" in out
    assert "outbox jobs handed to Redis and not yet run: 0" in out
    recovery_point = datetime.strptime(out.split("recovery point: ")[1][:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert between < recovery_point <= last_vote_at  # the later votes' commits came back
    for step in ("unpack the base backup", "replay the archived WAL", "verify the ledger and recount",
                 "rebuild the boards", "total"):
        assert f"\n{step}: " in out

    code, out = drill(source.env, "--to", between.isoformat())
    assert code == 0, out
    assert "gala: ledger ok, 2 entries" in out
    assert "tallies from the ledger: 01=3, 02=5" in out and "03=" not in out
    assert f"replayed to {between:%Y-%m-%d %H:%M:%S} UTC" in out
    assert "board rebuilt" not in out  # no Redis named: none touched

    code, out = drill(source.env, "--boards-redis", f"redis://127.0.0.1:{free_port()}/15")  # nothing listens there
    assert code == 1 and "Traceback" not in out, out
    assert "gala: ledger ok, 4 entries" in out and "recovery point: " in out  # the restore's findings still told
    assert "boards: NOT rebuilt in the --boards-redis given (ConnectionError: " in out

    code, out = drill(source.env, "--to", (between - timedelta(hours=1)).isoformat())
    assert code == 1 and "no base backup to restore begun before" in out
    code, out = drill(source.env, "--to", (last_vote_at + timedelta(hours=1)).isoformat())
    assert code == 1 and "recovery ended before configured recovery target was reached" in out, out


def test_a_segment_is_archived_once_and_again_only_with_the_same_bytes(scratch: Path) -> None:
    """A server that restarts before noting a segment archived hands it over again: the same bytes are success (or
    archiving would stop there for good), other bytes a failure, never an overwrite of the archive's copy."""
    wal = scratch / "wal"
    wal.mkdir()
    segment = scratch / "000000010000000000000007"
    segment.write_bytes(b"a" * 1000)

    def archive() -> int:
        command = archive_command(wal).replace("%p", str(segment)).replace("%f", segment.name)
        return subprocess.run(["sh", "-c", command], check=False).returncode

    assert archive() == 0 and (wal / segment.name).read_bytes() == b"a" * 1000
    assert archive() == 0
    segment.write_bytes(b"b" * 1000)
    assert archive() != 0 and (wal / segment.name).read_bytes() == b"a" * 1000
    assert [path.name for path in wal.iterdir()] == [segment.name]


def test_an_installation_may_archive_sooner_than_the_default_but_never_turn_the_time_out_off() -> None:
    wal = Path("/backups/wal")
    assert archive_settings(wal)["archive_timeout"] == f"{ARCHIVE_TIMEOUT_SECONDS}s" == "60s"
    assert archive_settings(wal, 5)["archive_timeout"] == "5s"
    with pytest.raises(BackupError, match="at least 1 s"):
        archive_settings(wal, 0)  # PostgreSQL's 0: no time-out at all


def test_the_newest_base_backup_begun_before_the_target_is_the_one_restored() -> None:
    t0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    backups = [(t0, Path("a")), (t0 + timedelta(hours=1), Path("b")), (t0 + timedelta(hours=2), Path("c"))]
    assert base_to_restore(backups, None) == Path("c")
    assert base_to_restore(backups, t0 + timedelta(minutes=90)) == Path("b")


async def test_the_embedded_default_archives_its_wal_within_the_time_out(scratch: Path) -> None:
    embedded = EmbeddedPostgres(scratch / "data", archive_to=scratch / "backups")
    url = await asyncio.to_thread(embedded.start)
    try:
        assert await shown(url, "archive_mode") == "on"
        assert await shown(url, "archive_timeout") == f"{ARCHIVE_TIMEOUT_SECONDS // 60}min"
        engine = create_engine(url, pool_size=1)
        try:
            await archive_now(session_factory(engine))
            async with engine.connect() as connection:  # an operator's own choice, by hand
                await (await connection.execution_options(isolation_level="AUTOCOMMIT")).execute(
                    text("ALTER SYSTEM SET archive_timeout = '30s'"))
        finally:
            await engine.dispose()
    finally:
        await asyncio.to_thread(embedded.stop)
    assert [segment.name for segment in (scratch / "backups" / "wal").iterdir() if len(segment.name) == 24]
    # Started again as the service starts it: the time-out set by hand stands.
    again = EmbeddedPostgres(scratch / "data", archive_to=scratch / "backups")
    url = await asyncio.to_thread(again.start)
    try:
        assert await shown(url, "archive_timeout") == "30s"
    finally:
        await asyncio.to_thread(again.stop)


def test_the_embedded_default_is_backed_up_and_restored_by_the_commands_alone(settings: Settings,
                                                                             scratch: Path) -> None:
    """What `make run`'s installation does: no DATABASE_URL, its own PostgreSQL (pgserver's), archiving as it
    starts; a base backup and a drill need nothing more."""
    env = {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "BACKUP_DIR")}
    env |= {"GATEWAY_DATA_DIR": str(scratch / "var"), "REDIS_URL": settings.redis_url or "", "LOG_JSON": "false"}
    for command in (("migrate",), ("seed", "--demo"), ("backup", "base")):
        done = gateway(*command, env=env)
        assert done.returncode == 0, done.stderr
    code, out = drill(env)
    assert code == 0, out
    assert "demo: ledger ok, 0 entries" in out and "total: " in out
    printed = gateway("backup", "settings", env=env).stdout  # what a server of one's own is given
    assert f"archive_command = '(test -f {scratch}/var/backups/wal/%f" in printed
    assert "archive_timeout = '60s'" in printed
    assert [segment for segment in (scratch / "var" / "backups" / "wal").iterdir() if len(segment.name) == 24]
