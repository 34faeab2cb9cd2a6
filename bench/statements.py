"""PostgreSQL's CPU by statement, from its own accounting: where a vote's database time goes.

The embedded PostgreSQL (pgserver) has no pg_stat_statements, and its timings are wall time anyway (a count
waiting for the ledger head's row lock is not CPU). `log_statement_stats` makes each backend log getrusage's
CPU for every protocol message (parse, bind, execute; a simple query), with its statement: switched on for a
measured phase by ALTER SYSTEM and a reload (every pooled connection takes it at its next command), then read
back from the server's log. The logging costs CPU of its own, so the phase is run apart from the figures.

A bind is where PostgreSQL plans a prepared statement: the first five binds on a connection make custom plans,
the sixth the generic one, and a cache invalidation (an ANALYZE, a VACUUM of a table it reads) makes it plan
again. So each statement's cost is told in two parts: the calls of a connection that had planned it already
("steady"), and the planning a connection did before (its parses and its first binds).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench.harness import Stack

HEADER = re.compile(r"\[(\d+)\] LOG:  (PARSE|BIND|EXECUTE|QUERY)(?: MESSAGE)? STATISTICS")
USAGE = re.compile(r"\t!\t([\d.]+) s user, ([\d.]+) s system")
STATEMENT = re.compile(r"\] STATEMENT:  (.*)")
PLANNED_AFTER_BINDS = 6  # five custom plans, then the generic one (PostgreSQL's plan cache)


def server_log(stack: Stack) -> Path:
    return stack.data_dir / "postgres" / "log"


async def statement_stats(stack: Stack, on: bool) -> int:
    """Switch the per-statement accounting on or off for every backend; the log's length at that moment."""
    connection = await asyncpg.connect(stack.database_url)
    try:
        await connection.execute("ALTER SYSTEM SET log_statement_stats = on" if on
                                 else "ALTER SYSTEM RESET log_statement_stats")
        await connection.execute("SELECT pg_reload_conf()")
    finally:
        await connection.close()
    return server_log(stack).stat().st_size


def postgres_by_process(stack: Stack) -> dict[str, float]:
    """PostgreSQL's CPU seconds so far by kind of process: the backends serving connections, each background
    process by its title (WAL writer, autovacuum, checkpointer, ...), and children that have exited (autovacuum
    workers, closed connections), counted in the postmaster's."""
    pgdata = stack.data_dir / "postgres"
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = defaultdict(float)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            pid, parent = int(entry.name), int(fields[1])
            if pid == postmaster:
                found["postmaster and exited children"] += sum(int(v) for v in fields[11:15]) / tick
            elif parent == postmaster:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                kind = title.removeprefix("postgres: ")
                kind = "backends" if " gateway " in f" {kind} " or "[local]" in kind else kind.split(" ")[0]
                found[kind] += sum(int(v) for v in fields[11:13]) / tick
    return found


@dataclass
class StatementCpu:
    text: str
    calls: int = 0  # executions (simple queries for BEGIN/COMMIT)
    steady: float = 0.0  # seconds: binds and executions of connections that had planned it already
    planning: float = 0.0  # seconds: parses and the first binds of each connection, and re-plans
    per_connection: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def total(self) -> float:
        return self.steady + self.planning


def read_statements(log: Path, start: int, end: int) -> dict[str, StatementCpu]:
    """Each statement's CPU from the server's log between two offsets, keyed by its first 60 characters."""
    with log.open("rb") as handle:
        handle.seek(start)
        text = handle.read(end - start).decode(errors="replace")
    found: dict[str, StatementCpu] = {}
    pid = kind = None
    cpu: float | None = None
    for line in text.splitlines():
        if header := HEADER.search(line):
            pid, kind, cpu = header.group(1), header.group(2), None
        elif (usage := USAGE.match(line)) and kind and cpu is None:
            cpu = float(usage.group(1)) + float(usage.group(2))
        elif (statement := STATEMENT.search(line)) and kind and cpu is not None and pid:
            key = re.sub(r"\s+", " ", statement.group(1)).strip()[:60]
            add(found.setdefault(key, StatementCpu(key)), pid, kind, cpu)
            kind = None
    return found


def add(row: StatementCpu, pid: str, kind: str, cpu: float) -> None:
    if kind == "BIND":
        row.per_connection[pid] += 1
    warm = row.per_connection[pid] > PLANNED_AFTER_BINDS
    if kind in ("EXECUTE", "QUERY"):
        row.calls += 1
    if kind == "PARSE" or (kind == "BIND" and not warm):
        row.planning += cpu
    else:
        row.steady += cpu


def report(found: dict[str, StatementCpu], votes: int, by_process: dict[str, float], top: int = 12) -> str:
    """The statements by CPU per confirmed vote (µs), and what they add up to beside PostgreSQL's whole CPU."""
    rows = sorted(found.values(), key=lambda row: -row.total)
    in_statements = sum(row.total for row in rows)
    planning = sum(row.planning for row in rows)
    per_vote = 1e6 / max(1, votes)
    processes = ", ".join(f"{kind} {cpu * per_vote:.0f}" for kind, cpu in
                          sorted(by_process.items(), key=lambda item: -item[1]) if cpu * per_vote >= 5)
    lines = [f"{votes} votes; PostgreSQL {sum(by_process.values()) * per_vote:.0f} us a vote ({processes}); "
             f"in statements {in_statements * per_vote:.0f} (planning {planning * per_vote:.0f}), the backends' "
             "rest is the protocol between statements and this phase's logging"]
    for row in rows[:top]:
        lines.append(f"{row.total * per_vote:6.0f} us  {row.calls / max(1, votes):4.2f} calls, "
                     f"{row.steady / max(1, row.calls) * 1e6:5.0f} us each when planned, planning "
                     f"{row.planning * per_vote:4.0f} us  | {row.text}")
    return "\n".join(lines)
