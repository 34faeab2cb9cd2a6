"""The restore drill on a database of a show's size: a throwaway PostgreSQL archiving its WAL (as the embedded default
does), a base backup of the morning, then the show's writes (the demo contest with `--orders` orders, 60% paid,
and their whole ledger) all to be replayed from the archive, then `gateway drill restore`'s steps in process, each
timed, and the recovery point's distance from the last write.

    python -m bench.drill [--orders 1000000] [--no-record]

Target (the issue's): restore, verify and rebuild within 10 minutes for 1,000,000 orders; data at risk at most the
archive's time-out (60 s).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from assembly.channel_list import MIGRATIONS
from assembly.machine.demo import seed_demo
from assembly.operations.backups import (
    ARCHIVE_TIMEOUT_SECONDS,
    BackupPlace,
    Throwaway,
    archive_settings,
    binaries_for,
    free_port,
    major_of,
    server_user,
    take_base_backup,
)
from assembly.operations.drill import run_drill
from bench.harness import print_report, record
from gateway.core.results import ledger
from gateway.core.results.ledger import EntryKind
from gateway.core.results.ledger_chain import GENESIS, LedgerEvent, entry_hash, event_bytes
from gateway.db.engine import create_engine, session_factory
from gateway.db.migrate import upgrade_async
from tests.admin.exports_data import insert_orders

PAID = "SELECT id, candidate_id, quantity, amount, currency, provider_txn_id, created_at FROM vote_orders " \
       "WHERE contest_id = $1 AND status = 'paid' ORDER BY created_at, id"


def chained(contest_id: int, rows: list[asyncpg.Record]) -> Iterator[tuple[object, ...]]:
    """The ledger the counting would have written, entry by entry (hashed as `gateway.core.results.ledger_chain`
    says)."""
    head = GENESIS
    for seq, row in enumerate(rows, start=1):
        event = LedgerEvent(EntryKind.COUNTED.value, row["id"], row["candidate_id"], row["quantity"], row["amount"],
                            row["currency"], row["provider_txn_id"], row["created_at"])
        digest = entry_hash(head, event)
        yield (contest_id, seq, event.kind, event.order_id, event.candidate_id, event.quantity, event.amount,
               event.currency, event.provider_txn_id, event.recorded_at, head, digest)
        head = digest


async def build_ledger(url: str, contest_id: int) -> int:
    """Every paid order on the ledger, its head and the tallies as the counting leaves them (COPY: minutes, not
    the hours a million counting statements would take)."""
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(PAID, contest_id)
        entries = list(chained(contest_id, rows))
        await connection.copy_records_to_table(
            "ledger_entries", records=entries,
            columns=["contest_id", "seq", "kind", "order_id", "candidate_id", "quantity", "amount", "currency",
                     "provider_txn_id", "recorded_at", "prev_hash", "hash"])
        last = entries[-1]
        event = LedgerEvent(*last[2:10])  # type: ignore[arg-type]
        await connection.execute(
            "INSERT INTO ledger_heads (contest_id, entries, head_hash, prev_hash, last_event) "
            "VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (contest_id) DO UPDATE SET entries = EXCLUDED.entries, head_hash = EXCLUDED.head_hash, "
            "prev_hash = EXCLUDED.prev_hash, last_event = EXCLUDED.last_event",
            contest_id, len(entries), last[11], last[10], event_bytes(event))
        await connection.execute(
            "UPDATE tallies t SET votes = s.votes FROM (SELECT candidate_id, sum(quantity) AS votes FROM "
            "ledger_entries WHERE contest_id = $1 GROUP BY candidate_id) s WHERE t.candidate_id = s.candidate_id",
            contest_id)
        await connection.execute("INSERT INTO ledger_checkpoints (contest_id, entries, head_hash, reason) "
                                 "VALUES ($1, $2, $3, 'hourly')", contest_id, len(entries), last[11])
        return len(entries)
    finally:
        await connection.close()


def wal_start(base: Path) -> str:
    """The LSN a base backup's replay starts at (its backup_label, in the tar)."""
    import tarfile

    with tarfile.open(base / "base.tar.gz") as tar:
        label = tar.extractfile("backup_label")
        assert label is not None
        return label.read().decode().split("START WAL LOCATION: ")[1].split()[0]


async def wait_archived(url: str) -> float:
    """Switch the segment and wait for the archive: seconds it took."""
    connection = await asyncpg.connect(url)
    started = time.monotonic()
    try:
        segment = await connection.fetchval("SELECT pg_walfile_name(pg_switch_wal())")
        while (await connection.fetchval("SELECT last_archived_wal FROM pg_stat_archiver") or "") < segment:
            await asyncio.sleep(0.1)
        return time.monotonic() - started
    finally:
        await connection.close()


async def run(orders: int, scratch: Path) -> dict[str, str]:
    bin_dir = binaries_for(None, None)
    user = server_user()
    place = BackupPlace(scratch / "backups")
    place.wal.mkdir(parents=True)
    if user is not None:
        shutil.chown(place.wal, user, user)
    source = Throwaway.make(bin_dir, free_port(), user)
    figures: dict[str, str] = {"PostgreSQL of the drill": f"{major_of(bin_dir)} ({bin_dir})"}
    try:
        source.initdb()
        source.configure(archive_settings(place.wal))
        source.start(120)
        admin = await asyncpg.connect(source.url("postgres", "postgres"))
        await admin.execute("CREATE DATABASE gateway")
        await admin.close()
        url = source.url("postgres", "gateway")
        await upgrade_async(url, MIGRATIONS)
        engine = create_engine(url, pool_size=2)
        contest = await seed_demo(session_factory(engine))
        # The base backup of the morning: the whole show's writes after it come back from the archive (the worst
        # case: the replay's time grows with the WAL written since the last base backup).
        started = time.monotonic()
        base = await asyncio.to_thread(take_base_backup, url, place, bin_dir)
        figures["base backup before the show"] = f"{time.monotonic() - started:.1f} s"
        started = time.monotonic()
        await insert_orders(session_factory(engine), contest.id, orders)
        entries = await build_ledger(url, contest.id)
        figures["the show's writes"] = (f"{orders} orders, {entries} ledger entries, in "
                                        f"{time.monotonic() - started:.0f} s")
        started = time.monotonic()
        await ledger.verify(session_factory(engine), contest.id)
        figures["ledger verify on the live database"] = f"{time.monotonic() - started:.1f} s"
        await engine.dispose()
        connection = await asyncpg.connect(url)
        wal = await connection.fetchval("SELECT pg_current_wal_lsn() - $1::text::pg_lsn", wal_start(base))
        figures["WAL to replay"] = f"{int(wal) / 1e6:.0f} MB"
        last_write = datetime.now(UTC)
        await connection.close()
        figures["segment switched -> archived"] = f"{await wait_archived(url):.1f} s"
        report = await run_drill(place, None, free_port(), "postgres", "gateway")
        for step in report.steps:
            figures[step.name] = f"{step.seconds:.1f} s"
        figures["drill total (target <= 600 s)"] = f"{report.seconds:.1f} s"
        figures["ledger verifies"] = "yes" if report.clean else "NO"
        lag = (last_write - report.recovery_point).total_seconds() if report.recovery_point else float("nan")
        figures["last write before the drill -> recovery point"] = (
            f"{lag:.1f} s (at most the archive's time-out, {ARCHIVE_TIMEOUT_SECONDS} s, once a segment is due)")
        figures["recovery point within 60 s"] = "yes" if abs(lag) <= ARCHIVE_TIMEOUT_SECONDS else "NO"
    finally:
        source.remove()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--no-record", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="ballot-bench-drill-"))
    scratch.chmod(0o755)
    try:
        figures = asyncio.run(run(args.orders, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    markdown = print_report(f"drill: restore, verify and recount {args.orders} orders", figures)
    if not args.no_record:
        record("drill", markdown)


if __name__ == "__main__":
    main()
