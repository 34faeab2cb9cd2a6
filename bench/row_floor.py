"""What PostgreSQL alone costs for the rows one web vote writes, in its statements and commits, with none of their
logic: the floor under `bench.votes`'s PostgreSQL CPU per vote, as `bench.floor` is the web process's.

A web vote paid by MTN writes, until its board moves (counted with `pg_stat_user_tables` under `bench.votes`:
15 rows inserted and 8 updated a vote, the verification's included):
- the placement, one transaction of three statements: the contest read under the payer's lock, the fraud rules'
  counters (seven rows of `fraud_counts` and two of `fraud_members` for a new payer from a new address, each an
  upsert) with the payer's history read, and the order's insert (ten indexes, the start's lease in it);
- the start's record, an update of the order (HOT: it leaves every indexed column alone);
- the callback's count, one statement: its event kept, the order paid (not HOT: its status is in three indexes'
  predicates), the ledger's head and entry, the tally, the outbox's row, the verification queue's row and the
  quick-payment counter;
- the outbox relay's mark on its row.
The status check that verifies the vote later (three updates of its queue row) runs at MTN's pace, 10 a second,
so a run at 300 votes a second carries little of it: left out, as are the reads of the board and the periodic
passes.

Here each of those is the plainest statement that writes the same rows of the real schema (migrated, with every
index, constraint and foreign key), prepared once (`pgbench -M prepared`), at the web pool's concurrency, new
payers and addresses as `bench.votes` makes them: a lone vote, committing four times; votes five at a time as the
service's lanes batch them under load (each placement its own transaction, the five starts' records in one, their
counts in one, the relay's marks in one statement: 1.6 commits a vote); and the same batches without the fraud
counters' 9 rows. Each is also told in pgbench's transaction as `bench.votes` runs it (an event inserted and a tally
updated), measured on the same server after each round: machines of this kind differ by the hour.

    python -m bench.row_floor [--seconds 20] [--clients 16] [--rate 300] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg

from assembly.channel_list import MIGRATIONS
from assembly.cpu.processes import read_table
from assembly.machine.embedded import service_urls
from assembly.operations.restored_folder import postmaster
from bench.harness import print_report, record
from bench.votes import CEILING_SCRIPT, CEILING_TABLES
from gateway.db.engine import create_engine, session_factory
from gateway.db.migrate import upgrade
from gateway.db.seed import seed_demo

PLACEMENT_LOCK = """BEGIN;
SELECT pg_advisory_xact_lock(hashtext('payer:' || :n::text)), c.id FROM contests c WHERE c.id = :contest;
"""
FRAUD_COUNTERS = """WITH moved AS (
  INSERT INTO fraud_members (contest_id, name, subject, member, bucket)
  VALUES (:contest, 'address_candidates_hour', 'a' || :n::text, :candidate::text, :hour),
         (:contest, 'address_numbers_day', 'a' || :n::text, '+23767' || :n::text, :day)
  ON CONFLICT (contest_id, name, subject, member) DO UPDATE SET previous_bucket = fraud_members.bucket,
    bucket = excluded.bucket WHERE fraud_members.bucket <> excluded.bucket
  RETURNING name),
counted AS (
  INSERT INTO fraud_counts (contest_id, name, subject, bucket, current, previous)
  VALUES (:contest, 'payer_orders_10_minutes', '+23767' || :n::text, :ten, 1, 0),
         (:contest, 'payer_orders_minute', '+23767' || :n::text, :minute, 1, 0),
         (:contest, 'payer_orders_day', '+23767' || :n::text, :day, 1, 0),
         (:contest, 'address_orders_10_minutes', 'a' || :n::text, :ten, 1, 0),
         (:contest, 'payer_votes_day', '+23767' || :n::text, :day, 1, 0),
         (:contest, 'address_candidates_hour', 'a' || :n::text, :hour, (SELECT count(*) FROM moved), 0),
         (:contest, 'address_numbers_day', 'a' || :n::text, :day, (SELECT count(*) FROM moved), 0)
  ON CONFLICT (contest_id, name, subject) DO UPDATE SET current = fraud_counts.current + excluded.current,
    bucket = excluded.bucket
  RETURNING name, bucket, current, previous)
SELECT name, bucket, current, previous FROM counted
UNION ALL SELECT name, bucket, current, previous FROM fraud_counts
  WHERE contest_id = :contest AND name = 'payer_refused' AND subject = '+23767' || :n::text;
"""
ORDER_INSERT = """INSERT INTO vote_orders (id, payment_reference, contest_id, candidate_id, quantity, amount, currency,
  channel, sends_receipt, provider, voter_msisdn, voter_address, expires_at, start_lease_until, start_attempted_at,
  fraud_figures, fraud_score)
VALUES (gen_random_uuid(), gen_random_uuid(), :contest, :candidate, 1, 100, 'XAF', 'web', false, 'mtn',
  '+23767' || :n::text, 'a' || :n::text, now() + interval '15 minutes', now() + interval '30 seconds', now(),
  '{"payer_orders_10_minutes": 1, "address_orders_10_minutes": 1}', 0)
RETURNING id AS order_id \\gset
COMMIT;
"""
START_RECORD = """UPDATE vote_orders SET payment_started_at = now(), start_lease_until = NULL,
  provider_data = '{"reference_id": "r"}', updated_at = now() WHERE id = :order_id;
"""
COUNT = """WITH kept AS (
  INSERT INTO provider_events (provider, event_id, order_id, kind, body, outcome)
  VALUES ('mtn', NULL, :order_id, 'callback', '{"status": "SUCCESSFUL", "amount": "100", "currency": "XAF"}',
          'counted') RETURNING id),
paid AS (
  UPDATE vote_orders SET status = 'paid', provider_txn_id = 'txn' || :n::text, decided_at = now(),
    status_reason = 'SUCCESSFUL', updated_at = now()
  WHERE id = :order_id AND status = 'pending' RETURNING id, contest_id, candidate_id, quantity, amount, currency),
head AS (
  INSERT INTO ledger_heads (contest_id, entries, head_hash, prev_hash, last_event)
  SELECT contest_id, 1, sha256('\\x00'::bytea || convert_to(id::text, 'UTF8')), '\\x00'::bytea,
         convert_to(id::text, 'UTF8') FROM paid
  ON CONFLICT (contest_id) DO UPDATE SET entries = ledger_heads.entries + 1, prev_hash = ledger_heads.head_hash,
    head_hash = sha256(ledger_heads.head_hash || excluded.last_event), last_event = excluded.last_event,
    updated_at = now()
  RETURNING contest_id, entries, prev_hash, head_hash),
entry AS (
  INSERT INTO ledger_entries (contest_id, seq, kind, order_id, candidate_id, quantity, amount, currency,
    provider_txn_id, recorded_at, prev_hash, hash)
  SELECT head.contest_id, head.entries, 'counted', paid.id, paid.candidate_id, paid.quantity, paid.amount,
    paid.currency, 'txn' || :n::text, now(), head.prev_hash, head.head_hash FROM head JOIN paid USING (contest_id)
  RETURNING candidate_id, quantity),
tally AS (
  UPDATE tallies SET votes = votes + entry.quantity, updated_at = now() FROM entry
  WHERE tallies.candidate_id = entry.candidate_id RETURNING votes),
queued AS (
  INSERT INTO outbox (topic, payload) SELECT 'vote.confirmed', jsonb_build_object('order_id', id::text,
    'contest_id', contest_id) FROM paid RETURNING id),
verifying AS (
  INSERT INTO payment_verifications (order_id, due_at) SELECT id, now() + interval '30 seconds' FROM paid),
quick AS (
  INSERT INTO fraud_counts (contest_id, name, subject, bucket, current, previous)
  SELECT contest_id, 'payer_paid_quick', '+23767' || :n::text, :minute, 1, 0 FROM paid
  ON CONFLICT (contest_id, name, subject) DO UPDATE SET current = fraud_counts.current + 1)
SELECT (SELECT id FROM queued) AS outbox_id, (SELECT id FROM kept) AS event_key \\gset
"""
RELAY = """UPDATE outbox SET enqueued_at = now(), delivered_at = now(), attempts = attempts + 1
  WHERE id IN ({ids});
"""


def one_of(statements: str, vote: int) -> str:
    """`statements` for the batch's `vote`-th vote: its own payer, candidate, order and rows' keys."""
    return re.sub(r"(?<![:\w])(:|AS )(n|candidate|order_id|outbox_id|event_key)\b", rf"\g<1>\g<2>{vote}", statements)


def vote_script(contest: int, candidates: list[int], fraud_counters: bool = True, batch: int = 1) -> str:
    """Web votes' statements, as pgbench runs them, a new payer and address each. `batch` votes at a time, as the
    service's lanes take them under load: each placed in its own transaction, then their starts' records in one
    transaction, their counts in one, and the relay's mark of their outbox rows in one statement; a lone vote
    (`batch` 1) commits four times."""
    epoch = int(time.time())
    # pgbench's \set has no clock: the buckets are fixed when the script is written (a run is shorter than a minute).
    lines = [f"\\set {name} {epoch // seconds}" for name, seconds in
             (("minute", 60), ("ten", 600), ("hour", 3600), ("day", 86400))]
    lines.append(f"\\set contest {contest}")
    for vote in range(batch):
        lines += [f"\\set n{vote} random(1, 999999999)", f"\\set pick{vote} random(0, {len(candidates) - 1})",
                  f"\\set candidate{vote} {candidates[0]} + :pick{vote}"]
    placement = PLACEMENT_LOCK + (FRAUD_COUNTERS if fraud_counters else "") + ORDER_INSERT
    votes = range(batch)
    shared = (lambda statement: "".join(one_of(statement, vote) for vote in votes)) if batch == 1 else (
        lambda statement: "BEGIN;\n" + "".join(one_of(statement, vote) for vote in votes) + "COMMIT;\n")
    return ("\n".join(lines) + "\n" + "".join(one_of(placement, vote) for vote in votes) + shared(START_RECORD)
            + shared(COUNT) + RELAY.format(ids=", ".join(f":outbox_id{vote}" for vote in votes)))


async def prepared(database_url: str) -> tuple[int, list[int]]:
    """The schema migrated and the demo contest made: its id and its candidates'."""
    await asyncio.to_thread(upgrade, database_url, MIGRATIONS)
    engine = create_engine(database_url)
    try:
        contest = await seed_demo(session_factory(engine))
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT id FROM candidates WHERE contest_id = $1 ORDER BY id", contest.id)
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()
    ids = [row["id"] for row in rows]
    assert ids == list(range(ids[0], ids[0] + len(ids))), "the demo's candidates are numbered in a row"
    return contest.id, ids


BACKGROUND = ("checkpointer", "background writer", "walwriter", "autovacuum launcher", "replication launcher")


def postgres_cpu(pgdata: Path) -> tuple[float, float]:
    """CPU seconds of the server on `pgdata` so far, its backends' included (those that ended too), and of its
    background processes alone (the WAL writer, the checkpointer, the background writer, the launchers)."""
    found = postmaster(pgdata)
    assert found is not None, f"no PostgreSQL runs on {pgdata}"
    table = read_table()
    server = table.descendants({found[0]})
    background = {pid for pid in server if any(name in table.commands.get(pid, "") for name in BACKGROUND)}
    return sum(table.by_kind(server).values()), sum(table.by_kind(background).values())


def pgbench_command(database_url: str, script: Path, *options: str, prepared: bool = True) -> list[str]:
    """pgbench running `script` on the database of `database_url` (a socket folder's or a host's), each statement
    prepared once per connection (as the service's driver prepares its own) unless not `prepared`."""
    import pgserver

    parts = urlsplit(database_url)
    host = parse_qs(parts.query).get("host", [parts.hostname or "127.0.0.1"])[0]
    return [str(Path(pgserver.__file__).parent / "pginstall" / "bin" / "pgbench"), "-h", host,
            *(["-p", str(parts.port)] if parts.port else []), "-U", parts.username or "postgres", "-n",
            *(["-M", "prepared"] if prepared else []), *options, "-f", str(script), parts.path.lstrip("/")]


def pgbench(database_url: str, pgdata: Path, script: str, seconds: int, clients: int,
            rate: float | None, prepared: bool = True) -> tuple[int, float, float, float]:
    """Runs of `script` done, their rate a second, and the server's CPU milliseconds per run, all of it and its
    background processes'; `rate`: runs started a second (pgbench's schedule, as votes arrive), or as many as the
    server takes."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as file:
        file.write(script)
        file.flush()
        before = postgres_cpu(pgdata)
        result = subprocess.run(pgbench_command(
            database_url, Path(file.name), "-c", str(clients), "-j", str(os.cpu_count() or 1), "-T", str(seconds),
            *(["-R", f"{rate:g}"] if rate else []), prepared=prepared), capture_output=True, text=True)
        after = postgres_cpu(pgdata)
    done = re.search(r"number of transactions actually processed: (\d+)", result.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", result.stdout)
    if result.returncode != 0 or done is None or int(done.group(1)) == 0 or (failed and int(failed.group(1))):
        raise RuntimeError(f"pgbench failed:\n{result.stdout}\n{result.stderr}")
    runs = int(done.group(1))
    return (runs, runs / seconds, (after[0] - before[0]) * 1000 / runs, (after[1] - before[1]) * 1000 / runs)


async def rows_per_vote(database_url: str) -> str:
    """What a run left in the tables, per order: the rows it inserted and updated (HOT ones apart)."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SELECT pg_stat_force_next_flush()")
        votes = await connection.fetchval("SELECT count(*) FROM vote_orders")
        rows = await connection.fetch("SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                                      "WHERE n_tup_ins + n_tup_upd > $1 ORDER BY relname", votes // 2)
    finally:
        await connection.close()
    return ", ".join(f"{row['relname']} +{row['n_tup_ins'] / votes:.0f}"
                     + (f" ~{row['n_tup_upd'] / votes:.0f}" if row["n_tup_upd"] else "")
                     + (f" (HOT {row['n_tup_hot_upd'] / votes:.0f})" if row["n_tup_hot_upd"] else "") for row in rows)


def pgbench_transaction(database_url: str, pgdata: Path, seconds: int = 15) -> float:
    """PostgreSQL's CPU milliseconds for `bench.votes`' pgbench transaction, run as it runs it (its unit of a
    PostgreSQL's speed: machines of this kind differ by hours, so a vote is set against a transaction of the same
    hour)."""
    ceiling = urlsplit(database_url)._replace(path="/ceiling").geturl()
    cores = os.cpu_count() or 1
    return pgbench(ceiling, pgdata, CEILING_SCRIPT, seconds, 4 * cores, None, prepared=False)[2]


async def _ceiling_tables(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("CREATE DATABASE ceiling")
    finally:
        await connection.close()
    connection = await asyncpg.connect(urlsplit(database_url)._replace(path="/ceiling").geturl())
    try:
        await connection.execute(CEILING_TABLES)
    finally:
        await connection.close()


# Each variant: its name, the fraud counters' rows written, the votes a batch (at 300 a second the service's count
# batches carry about 5, RESULTS.md "votes-open-beside-row-floor").
VARIANTS = (("a lone web vote's rows, 4 commits", True, 1),
            ("5 votes a batch, 1.6 commits a vote", True, 5),
            ("5 a batch without the fraud counters' 9 rows", False, 5))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.row_floor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=16, help="connections at once (a web process's pool)")
    parser.add_argument("--rate", type=float, default=300, help="votes a second, as they arrive (the issue's 300); "
                        "0: as many as PostgreSQL takes")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each variant, taken in turn")
    parser.add_argument("--section", default="row-floor", help="its section of RESULTS.md (a run at another rate)")
    args = parser.parse_args()
    measured: dict[str, list[tuple[int, float, float, float]]] = {name: [] for name, _, _ in VARIANTS}
    rows, units = "", list[float]()
    with tempfile.TemporaryDirectory(prefix="ballot-rows-", dir="/tmp") as data, \
            service_urls(None, "unused", Path(data)) as urls:
        pgdata = Path(data, "postgres").resolve()
        contest, candidates = asyncio.run(prepared(urls.database_url))
        asyncio.run(_ceiling_tables(urls.database_url))  # pgbench_transaction's, made once for every round
        for _ in range(args.repeat):
            for name, counters, batch in VARIANTS:
                script = vote_script(contest, candidates, fraud_counters=counters, batch=batch)
                runs = pgbench(urls.database_url, pgdata, script, args.seconds, args.clients, args.rate / batch)
                measured[name].append((runs[0] * batch, runs[1] * batch, runs[2] / batch, runs[3] / batch))
                rows = rows or asyncio.run(rows_per_vote(urls.database_url))  # the first variant's: the vote as it is
            units.append(pgbench_transaction(urls.database_url, pgdata))
    unit = sum(units) / len(units)
    figures = {f"{name}, PostgreSQL CPU a vote": (
        " / ".join(f"{cpu:.3f}" for _, _, cpu, _ in runs) + " ms = "
        + " / ".join(f"{cpu / unit:.1f}" for _, _, cpu, _ in runs) + " pgbench transactions; its background processes "
        + " / ".join(f"{background:.3f}" for *_, background in runs)
        + f" ms ({', '.join(f'{rate:.0f}' for _, rate, _, _ in runs)} votes a second for {args.seconds} s, "
          f"{args.clients} connections)") for name, runs in measured.items()}
    figures["rows per vote (inserted +, updated ~)"] = rows
    figures["pgbench's transaction as bench.votes runs it (insert event + update tally), same PostgreSQL"] = (
        " / ".join(f"{one:.3f}" for one in units) + f" ms of PostgreSQL CPU, after each round (as many as it takes, "
        f"{4 * (os.cpu_count() or 1)} connections); the mean is the unit above")
    record(args.section, print_report(f"{args.section}: PostgreSQL's own cost for the rows a web vote writes", figures))


if __name__ == "__main__":
    main()
