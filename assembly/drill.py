"""`gateway drill restore`: the latest base backup and the archived WAL into a fresh server, then what the restored
database says: its ledger verified, its tallies recounted from the ledger, its last checkpoint and signed sheet
checked against the chain, the recovery point (the last transaction restored) and how long each step took."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from assembly.backups import (
    BackupError,
    BackupPlace,
    Throwaway,
    backup_major,
    base_backups,
    base_to_restore,
    binaries_for,
    restore_command,
    server_user,
    unpack,
)
from gateway.core.results import ledger
from gateway.db.engine import Sessions, create_engine, session_factory
from gateway.db.models import Candidate, Contest, LedgerCheckpoint, OutboxMessage, ResultsSheet
from leaderboard.cache import cached_votes
from leaderboard.rebuild import rebuild_all

T = TypeVar("T")
PROMOTION_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float


@dataclass(frozen=True)
class ContestFinding:
    """One restored contest: its ledger's verdict, the votes its ledger counts (candidate code -> votes), and the
    last checkpoint and signed sheet it holds (the ledger's verdict says whether they match the chain)."""

    report: ledger.LedgerReport
    tallies: dict[str, int]
    checkpoint: tuple[str, datetime, int] | None  # reason, when, entries
    sheet: tuple[str, datetime, int] | None


@dataclass
class DrillReport:
    base: Path
    target: datetime | None
    began: datetime
    recovery_point: datetime | None = None
    jobs_in_redis: int = 0  # outbox rows handed to RQ, not yet run: lost if Redis was lost too
    boards: dict[str, dict[str, int]] | None = None  # rebuilt into a scratch Redis DB: slug -> code -> votes
    boards_problem: str | None = None  # why they could not be (that Redis unreachable): the rest still stands
    steps: list[Step] = field(default_factory=list)
    contests: list[ContestFinding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.boards_problem is None and all(finding.report.clean for finding in self.contests)

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)

    def data_at_risk(self) -> float | None:
        """Seconds between the last transaction restored and the drill: the most a loss now would cost (less if
        nothing was written since)."""
        return None if self.recovery_point is None else (self.began - self.recovery_point).total_seconds()


async def timed(report: DrillReport, name: str, work: Callable[[], Awaitable[T]]) -> T:
    started = time.perf_counter()
    try:
        return await work()
    finally:
        report.steps.append(Step(name, time.perf_counter() - started))


def recovery_settings(place: BackupPlace, target: datetime | None) -> dict[str, str]:
    """Replay the archive (to the target, if any) and open for writes after; never archive into the live archive."""
    settings = {"archive_mode": "off", "restore_command": restore_command(place.wal)}
    if target is not None:
        settings |= {"recovery_target_time": target.astimezone(UTC).isoformat(),
                     "recovery_target_action": "promote"}
    return settings


async def run_drill(place: BackupPlace, bin_dir: Path | None, port: int, role: str, database: str,
                    target: datetime | None = None, timeout: float = 3600,
                    boards_redis: str | None = None) -> DrillReport:
    """Restore, check, and remove the throwaway server (its files too), whatever happened; with `boards_redis` (a
    scratch Redis DB: its boards are overwritten), the boards are rebuilt there as after a loss of Redis."""
    base = base_to_restore(base_backups(place), target)
    report = DrillReport(base, target, datetime.now(UTC))
    server = Throwaway.make(binaries_for(backup_major(base), bin_dir), port, server_user(like=place.wal))
    try:
        await timed(report, "unpack the base backup", lambda: asyncio.to_thread(unpack, base, server.data))
        (server.data / "recovery.signal").touch()
        server.configure(recovery_settings(place, target))
        await timed(report, "replay the archived WAL", lambda: replay(server, timeout))
        engine = create_engine(server.url(role, database), pool_size=1)
        try:
            sessions = session_factory(engine)
            report.recovery_point = await last_replayed(sessions)
            report.jobs_in_redis = await jobs_handed_to_redis(sessions)
            report.contests = await timed(report, "verify the ledger and recount", lambda: findings(sessions))
            if boards_redis is not None:
                try:
                    report.boards = await timed(report, "rebuild the boards", lambda: rebuilt_boards(sessions,
                                                                                                      boards_redis))
                except (RedisError, OSError, ValueError) as exc:  # the restore and its checks above still stand
                    report.boards_problem = f"{type(exc).__name__}: {exc}"
        finally:
            await engine.dispose()
    finally:
        await asyncio.to_thread(server.remove)
    return report


async def replay(server: Throwaway, timeout: float) -> None:
    """Start the restored server and wait for the end of recovery (it opens for reads before that)."""
    try:
        await asyncio.to_thread(server.start, timeout)
    except BackupError as exc:
        raise BackupError(f"the restored server did not start: {exc}\n{server.log_tail()}") from exc
    engine = create_engine(server.url("postgres", "postgres"), pool_size=1)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                async with engine.connect() as connection:
                    if not await connection.scalar(text("SELECT pg_is_in_recovery()")):
                        return
            except (OSError, SQLAlchemyError) as exc:  # it stopped: a target it could not reach, a segment missing
                if not (server.data / "postmaster.pid").exists():
                    raise BackupError(f"the restored server stopped during recovery\n{server.log_tail()}") from exc
            await asyncio.sleep(PROMOTION_POLL_SECONDS)
    finally:
        await engine.dispose()
    raise BackupError(f"recovery did not end within {timeout:.0f} s\n{server.log_tail()}")


async def last_replayed(sessions: Sessions) -> datetime | None:
    """The commit time of the last transaction replayed from the archive (None: none after the base backup)."""
    async with sessions() as session:
        value = await session.scalar(text("SELECT pg_last_xact_replay_timestamp()"))
    return value if isinstance(value, datetime) else None


async def jobs_handed_to_redis(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.enqueued_at.is_not(None), OutboxMessage.delivered_at.is_(None))) or 0)


async def rebuilt_boards(sessions: Sessions, url: str) -> dict[str, dict[str, int]]:
    """`gateway leaderboard rebuild` into that Redis, and what each board then shows."""
    redis = Redis.from_url(url)
    try:
        await rebuild_all(sessions, redis)
        async with sessions() as session:
            rows = (await session.execute(select(Contest.id, Contest.slug, Candidate.id, Candidate.code)
                                          .join(Candidate, Candidate.contest_id == Contest.id))).all()
        boards: dict[str, dict[str, int]] = {}
        for contest_id in {row[0] for row in rows}:
            votes = await cached_votes(redis, contest_id)
            for _, slug, candidate, code in (row for row in rows if row[0] == contest_id):
                if votes.get(candidate):
                    boards.setdefault(slug, {})[code] = votes[candidate]
        return {slug: dict(sorted(board.items())) for slug, board in boards.items()}
    finally:
        await redis.aclose()


async def findings(sessions: Sessions) -> list[ContestFinding]:
    async with sessions() as session:
        contests = (await session.execute(select(Contest.id).order_by(Contest.id))).scalars().all()
    return [await finding(sessions, contest_id) for contest_id in contests]


async def finding(sessions: Sessions, contest_id: int) -> ContestFinding:
    report = await ledger.verify(sessions, contest_id)
    async with sessions() as session:
        codes = dict((await session.execute(select(Candidate.id, Candidate.code)
                                            .where(Candidate.contest_id == contest_id))).all())
        checkpoint = (await session.execute(
            select(LedgerCheckpoint.reason, LedgerCheckpoint.taken_at, LedgerCheckpoint.entries)
            .where(LedgerCheckpoint.contest_id == contest_id)
            .order_by(LedgerCheckpoint.taken_at.desc(), LedgerCheckpoint.id.desc()).limit(1))).first()
        sheet = (await session.execute(
            select(ResultsSheet.reason, ResultsSheet.created_at, ResultsSheet.entries)
            .where(ResultsSheet.contest_id == contest_id)
            .order_by(ResultsSheet.created_at.desc(), ResultsSheet.id.desc()).limit(1))).first()
    tallies = {codes.get(candidate, str(candidate)): votes for candidate, votes in report.votes.items()}
    return ContestFinding(report, dict(sorted(tallies.items())), checkpoint, sheet)


def shown(votes: dict[str, int]) -> str:
    return ", ".join(f"{code}={n}" for code, n in votes.items()) or "no votes"


def report_lines(report: DrillReport) -> list[str]:
    """What the drill prints: the backup, each contest's verdict and tallies, the recovery point, the times."""
    lines = [f"base backup: {report.base.name}" + (f", replayed to {report.target:%Y-%m-%d %H:%M:%S} UTC"
                                                    if report.target else ", the whole archive replayed")]
    for contest in report.contests:
        verdict = "ok" if contest.report.clean else "BROKEN"
        lines.append(f"{contest.report.contest_slug}: ledger {verdict}, {contest.report.entries} entries, head "
                     f"{contest.report.head.hex()[:16]}")
        lines.extend(f"  {problem}" for problem in contest.report.problems)
        if contest.report.broken is not None:
            lines.append(f"  first broken entry: {contest.report.broken.seq} ({contest.report.broken.reason})")
        lines.append(f"  tallies from the ledger: {shown(contest.tallies)}")
        if report.boards is not None:
            board = report.boards.get(contest.report.contest_slug, {})
            same = "the same" if board == {code: n for code, n in contest.tallies.items() if n} else "DIFFERENT"
            lines.append(f"  board rebuilt: {shown(board)} ({same})")
        for what, found in (("last checkpoint", contest.checkpoint), ("last signed sheet", contest.sheet)):
            if found is not None:
                reason, when, entries = found
                holds = "matches the chain" if contest.report.clean else "see above"
                lines.append(f"  {what}: {reason} of {when:%Y-%m-%d %H:%M:%S} UTC at entry {entries}, {holds}; "
                             f"{contest.report.entries - entries} entries since")
    if report.boards_problem is not None:
        lines.append(f"boards: NOT rebuilt in the --boards-redis given ({report.boards_problem})")
    if report.recovery_point is None:
        lines.append("recovery point: the base backup itself (no transaction replayed after it)")
    else:
        lines.append(f"recovery point: {report.recovery_point.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC, the last "
                     f"transaction restored; data at risk: writes after it ({report.data_at_risk():.0f} s before "
                     "the drill began)")
    lines.append(f"outbox jobs handed to Redis and not yet run: {report.jobs_in_redis} (with Redis lost too: "
                 "receipts and notices that never go out; no vote or payment, those are in PostgreSQL)")
    lines.extend(f"{step.name}: {step.seconds:.1f} s" for step in report.steps)
    lines.append(f"total: {report.seconds:.1f} s")
    return lines
