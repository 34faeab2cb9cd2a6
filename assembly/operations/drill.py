"""`gateway drill restore`: the latest base backup and the archived WAL into a fresh server, then what the restored
database says: its ledger verified, its tallies recounted from the ledger, its last checkpoint and signed sheet
checked against the chain, the recovery point (the last transaction restored) and how long each step took."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from redis.exceptions import RedisError
from sqlalchemy import func, select

from assembly.operations.backups import (
    BackupPlace,
    backup_major,
    base_backups,
    base_to_restore,
    binaries_for,
    give_to,
    server_user,
)
from assembly.operations.restore import (
    RecoveringServer,
    Step,
    last_replayed,
    prepare_recovery,
    recovery_options,
    timed,
    wait_for_promotion,
)
from gateway.core.results import ledger
from gateway.db.engine import Sessions, create_engine, session_factory
from gateway.db.models import Candidate, Contest, LedgerCheckpoint, OutboxMessage, ResultsSheet
from gateway.jobs.redis_connections import async_client
from leaderboard.cache import cached_votes
from leaderboard.rebuild import rebuild_all


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


async def run_drill(place: BackupPlace, bin_dir: Path | None, port: int, role: str, database: str,
                    target: datetime | None = None, timeout: float = 3600,
                    boards_redis: str | None = None) -> DrillReport:
    """Restore as `gateway restore` does, into a temporary folder and with archiving off (never into the live
    archive); check; remove the server and its files, whatever happened. With `boards_redis` (a scratch Redis DB:
    its boards are overwritten), the boards are rebuilt there as after a loss of Redis."""
    base = base_to_restore(base_backups(place), target)
    report = DrillReport(base, target, datetime.now(UTC))
    user = server_user(like=place.wal)
    folder = Path(tempfile.mkdtemp(prefix="ballot-drill-"))
    give_to(folder, user)
    server = RecoveringServer(binaries_for(backup_major(base), bin_dir), folder / "data", user, port=port)
    try:
        await timed(report.steps, "unpack the base backup",
                    lambda: asyncio.to_thread(prepare_recovery, base, server.data, user))
        server.start(recovery_options(place, target, archive=False))
        await timed(report.steps, "replay the archived WAL", lambda: wait_for_promotion(server, timeout))
        report.recovery_point = await last_replayed(server.url(role, database))
        engine = create_engine(server.url(role, database), pool_size=1)
        try:
            sessions = session_factory(engine)
            report.jobs_in_redis = await jobs_handed_to_redis(sessions)
            report.contests = await timed(report.steps, "verify the ledger and recount", lambda: findings(sessions))
            if boards_redis is not None:
                try:
                    report.boards = await timed(report.steps, "rebuild the boards",
                                                lambda: rebuilt_boards(sessions, boards_redis))
                except (RedisError, OSError, ValueError) as exc:  # the restore and its checks above still stand
                    report.boards_problem = f"{type(exc).__name__}: {exc}"
        finally:
            await engine.dispose()
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(folder, ignore_errors=True)
    return report


async def jobs_handed_to_redis(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.enqueued_at.is_not(None), OutboxMessage.delivered_at.is_(None))) or 0)


async def rebuilt_boards(sessions: Sessions, url: str) -> dict[str, dict[str, int]]:
    """`gateway leaderboard rebuild` into that Redis, and what each board then shows."""
    redis = async_client(url)
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
