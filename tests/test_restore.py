"""`gateway restore` on the embedded default's folder, as an operator runs it after losing the database, twice in a
row with votes flowing: each restore promotes a new timeline and backs it up before the service starts, the archive
goes on within its time-out, and at no moment are more than the archive's time-out of votes at risk (a tight one, as an
installation may choose: the default's 60 s would be waited out twice). The service's own start and stop around a
restored folder leave no PostgreSQL behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import tarfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import psutil
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from assembly.machine.embedded import EmbeddedPostgres
from assembly.operations.backups import (
    BackupPlace,
    Throwaway,
    archive_settings,
    base_backups,
    binaries_for,
    free_port,
    give_to,
    server_user,
)
from assembly.operations.restore import restore_folder, start_new_timeline, timeline_backups
from assembly.operations.restored_folder import PGSERVER_HANDLES
from assembly.settings import Settings
from gateway.core.orders import counting
from gateway.db.engine import Sessions, create_engine, session_factory
from gateway.db.failover import PrimaryUnavailable
from gateway.db.models import Contest, VoteOrder
from tests.commands import gateway
from tests.factories import RULES_OFF, make_contest, place
from tests.restored_folders import kill_postgres_on, postgres_processes_on, scratch_folder, shown

# The installation's archive time-out, in seconds: a tight one, as an organiser may choose (the default, 60 s, is
# what tests/test_restore_drill.py finds the embedded default set).
ARCHIVE_TIMEOUT = 5
AT_RISK_MARGIN = 10  # the archiver's own pace and a loaded machine, past the archive's time-out
SEGMENT = re.compile(r"^[0-9A-F]{24}$")


@pytest.fixture
def scratch() -> Iterator[Path]:
    yield from scratch_folder()


@dataclass
class Votes:
    """Votes counted one after another, each commit's time noted, until stopped (or the database is lost)."""

    contest: Contest
    counted: list[datetime] = field(default_factory=list)

    async def flow(self, sessions: Sessions, stop: asyncio.Event) -> None:
        # The database lost, the flow ends: its next vote does not wait for a primary to come back (the service's does).
        with contextlib.suppress(SQLAlchemyError, OSError, PrimaryUnavailable):
            while not stop.is_set():
                order = await place(sessions, self.contest, "01", quantity=1, primary_wait=0)
                await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency,
                                               f"txn-{len(self.counted)}-{time.time_ns()}", provider=order.provider)
                self.counted.append(datetime.now(UTC))
                await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def flowing(url: str, votes: Votes) -> AsyncIterator[None]:
    engine = create_engine(url, pool_size=2)
    stop = asyncio.Event()
    task = asyncio.create_task(votes.flow(session_factory(engine), stop))
    try:
        yield
    finally:
        stop.set()
        await task
        await engine.dispose()


def segments(place: BackupPlace, timeline: int) -> set[str]:
    return {path.name for path in place.wal.iterdir()
            if SEGMENT.match(path.name) and int(path.name[:8], 16) == timeline}


def new_segment(place: BackupPlace, timeline: int, before: set[str]) -> bool:
    return bool(segments(place, timeline) - before)


async def until(condition: object, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


def lose(server: EmbeddedPostgres, pgdata: Path) -> datetime:
    """The database lost: its postmaster killed outright, as a machine's loss would stop it."""
    pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    lost_at = datetime.now(UTC)
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).wait(60)
    server.stop()  # the handle forgets the dead server
    return lost_at


def recovery_point(out: str) -> datetime:
    return datetime.strptime(out.split("recovery point: ")[1][:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


async def count_orders(url: str) -> int:
    engine = create_engine(url, pool_size=1)
    try:
        async with session_factory(engine)() as session:
            return int(await session.scalar(select(func.count()).select_from(VoteOrder)) or 0)
    finally:
        await engine.dispose()


async def test_two_restores_in_a_row_with_votes_flowing_leave_at_most_the_archive_time_out_at_risk(
        settings: Settings, scratch: Path) -> None:
    data_dir = scratch / "var"
    pgdata = (data_dir / "postgres").resolve()
    backups = BackupPlace((data_dir / "backups").resolve())
    env = {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "BACKUP_DIR")}
    env |= {"GATEWAY_DATA_DIR": str(data_dir), "REDIS_URL": settings.redis_url or "", "LOG_JSON": "false"}
    for command in (("migrate",), ("backup", "base")):
        done = gateway(*command, env=env)
        assert done.returncode == 0, done.stderr
    # The service, as `make run` starts it, told a tighter time-out than the one its commands above set.
    server = EmbeddedPostgres(data_dir, archive_to=backups.root, archive_timeout=ARCHIVE_TIMEOUT)
    url = await asyncio.to_thread(server.start)
    engine = create_engine(url, pool_size=1)
    votes = Votes(await make_contest(session_factory(engine), slug="gala", fraud_rules=RULES_OFF))
    await engine.dispose()
    at_risk: list[float] = []
    for timeline in (1, 2):
        # On a restored folder too, whose base backup was taken with the commands' default.
        assert await shown(url, "archive_timeout") == f"{ARCHIVE_TIMEOUT}s"
        async with flowing(url, votes):
            await until(lambda: len(votes.counted) > 5, 60, "votes counted")
            resumed = datetime.now(UTC)
            took = await until(partial(new_segment, backups, timeline, segments(backups, timeline)),
                               ARCHIVE_TIMEOUT + AT_RISK_MARGIN,
                               f"a segment of timeline {timeline} archived while votes flow")
            assert took <= ARCHIVE_TIMEOUT + AT_RISK_MARGIN
            lost_at = await asyncio.to_thread(lose, server, pgdata)
        counted_before_loss = [when for when in votes.counted if when <= lost_at]

        done = gateway("restore", env=env, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        restored_to = recovery_point(done.stdout)
        at_risk.append((lost_at - restored_to).total_seconds())
        assert restored_to >= resumed  # the votes since the last restore came back, up to the archive's last
        assert at_risk[-1] <= ARCHIVE_TIMEOUT + AT_RISK_MARGIN, at_risk
        assert f"new timeline {timeline + 1}: base backup" in done.stdout
        assert timeline_backups(backups, timeline + 1)  # its history file is in the archive
        assert base_backups(backups)[-1][1].name in done.stdout
        assert "next: make run" in done.stdout
        assert not postgres_processes_on(pgdata)  # the restore's own server stopped

        url = await asyncio.to_thread(server.start)
        restored = await count_orders(url)  # the recovery point is told to the second; each time noted after its commit
        assert len([when for when in counted_before_loss if when < restored_to]) <= restored
        assert restored <= len([when for when in counted_before_loss if when <= restored_to + timedelta(seconds=2)])
        del votes.counted[restored:]  # counted one after another: those past the recovery point were lost with it
    await asyncio.to_thread(server.stop)
    assert not postgres_processes_on(pgdata), "the restored server outlived the service"
    print(f"data at risk at each loss: {', '.join(f'{seconds:.1f} s' for seconds in at_risk)}")


def test_the_embedded_server_stops_with_the_service_whatever_its_folder_says_held_it(scratch: Path) -> None:
    """A base backup carries pgserver's list of the processes holding the server, and a process killed never takes
    itself off it: the service, the last real holder, then left PostgreSQL running when it stopped."""
    server = EmbeddedPostgres(scratch / "var")
    server.start()
    server.stop()
    pgdata = (scratch / "var" / "postgres").resolve()
    dead = psutil.Popen(["true"])  # a process that was, and is no more
    dead.wait()
    (pgdata / PGSERVER_HANDLES).write_text(json.dumps([dead.pid]))
    server.start()
    assert postgres_processes_on(pgdata)
    server.stop()
    assert not kill_postgres_on(pgdata), "PostgreSQL outlived the service"


def test_a_new_embedded_server_has_a_base_backup_before_the_service_writes(scratch: Path) -> None:
    """The archive restores nothing without a base backup of the timeline it continues: `make run`'s first start
    takes one (and a later start, with one there, takes none), so a database lost on the first night comes back."""
    backups = BackupPlace(scratch / "backups")
    server = EmbeddedPostgres(scratch / "var", archive_to=backups.root)
    try:
        server.start()
        assert len(base_backups(backups)) == 1 and timeline_backups(backups, 1)
        server.stop()
        server.start()
        assert len(base_backups(backups)) == 1
    finally:
        server.stop()


def test_a_restore_that_fails_after_setting_the_folder_aside_says_where_its_old_contents_are(
        settings: Settings, scratch: Path) -> None:
    """What the folder held may be the only copy of WAL never archived: a restore cut short (a base backup that
    does not start, a disk full, a replay that times out) must not leave it somewhere nobody is told of."""
    backups = BackupPlace(scratch / "backups")
    broken = backups.base / "20261127T200000Z"
    broken.mkdir(parents=True)
    version = scratch / "PG_VERSION"
    version.write_text("15\n")
    with tarfile.open(broken / "base.tar.gz", "w:gz") as tar:  # a base backup with nothing but its version
        tar.add(version, arcname="PG_VERSION")
    data = scratch / "main"
    data.mkdir()
    (data / "000000010000000000000042").write_text("WAL never archived")
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    env |= {"BACKUP_DIR": str(backups.root), "REDIS_URL": settings.redis_url or "", "LOG_JSON": "false"}
    done = gateway("restore", "--data-dir", str(data), env=env, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    [kept] = scratch.glob("main.before-restore-*")
    assert f"what {data} held before the restore is kept in {kept}" in done.stderr
    assert (kept / "000000010000000000000042").read_text() == "WAL never archived"
    assert str(kept) in done.stderr.split("the restore failed:")[0]  # logged as soon as it was moved there


@contextlib.contextmanager
def archiving_server(backups: BackupPlace) -> Iterator[Throwaway]:
    """A server of one's own archiving into `backups`, as `gateway backup settings` sets one up."""
    bin_dir, user = binaries_for(None, None), server_user()
    backups.wal.mkdir(parents=True)
    give_to(backups.wal, user)
    server = Throwaway.make(bin_dir, free_port(), user)
    try:
        server.initdb()
        server.configure(archive_settings(backups.wal))
        server.start(120)
        yield server
    finally:
        server.remove()


async def test_a_replication_only_role_is_told_what_it_may_not_do_and_the_restore_checkpoints_as_the_superuser(
        scratch: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The README asks DATABASE_URL's role for REPLICATION (base backups), not for superuser: its CHECKPOINT and
    pg_switch_wal() were refused and the refusal went unseen. The base backup's own checkpoint and switch stand in
    where the server is not ours; where it is (the restore's own socket), they run as the cluster's superuser."""
    caplog.set_level(logging.WARNING, "assembly.operations.restore")
    backups = BackupPlace(scratch / "backups")
    with archiving_server(backups) as server:
        engine = create_engine(server.url("postgres", "postgres"), pool_size=1)
        async with engine.begin() as connection:
            await connection.execute(text("CREATE ROLE shipper LOGIN REPLICATION"))
        await engine.dispose()
        timeline, base = await asyncio.to_thread(start_new_timeline, server.url("shipper", "postgres"), backups,
                                                 server.bin_dir)
        assert (timeline, base) == (1, base_backups(backups)[-1][1]) and timeline_backups(backups, 1)
        assert "shipper may not run CHECKPOINT or pg_switch_wal() (ERROR:  42501: " in caplog.text
    caplog.clear()
    report = await restore_folder(backups, scratch / "restored", None, "shipper", "postgres", timeout=300)
    assert report.timeline == 2 and report.new_base is not None and timeline_backups(backups, 2)
    assert "may not run CHECKPOINT" not in caplog.text, caplog.text
