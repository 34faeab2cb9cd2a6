"""What PostgreSQL is doing while votes flow, sampled on one connection of its own: its client backends (by the host
they come from, how many are running, waiting, or idle inside a transaction for their client), the commits
(`pg_stat_database`), the transactions that wrote (the next transaction id: one is assigned only to a transaction
that writes) and the WAL written; and the statements the backends waiting on a lock were in, and those after which
backends sat idle inside a transaction (holding its locks while their client did something else).

Read over a window of steady load, each as a rate, then per vote against the votes confirmed a second in that same
window: `pg_stat_database` shows a backend's commits only once it flushes its counters (at most a second apart while
it works), a lag that shifts a steady window without shortening it. The transaction id and the WAL position are
read as they are. Each sample is itself one read-only commit, taken out of the commits.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg

SAMPLE_EVERY = 0.5  # seconds
SAMPLE = """
SELECT extract(epoch FROM clock_timestamp())::float8 AS at,
       (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid,
       (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint AS wal_bytes,
       (SELECT coalesce(json_agg(json_build_array(
                  host(a.client_addr), a.state, a.wait_event_type, a.wait_event,
                  CASE WHEN a.state <> 'idle' THEN left(a.query, 200) END,
                  CASE WHEN a.wait_event_type = 'Lock' THEN (  -- who holds what it waits for, and doing what
                    SELECT b.state || ': ' || left(b.query, 200) FROM pg_stat_activity b
                    WHERE b.pid = (pg_blocking_pids(a.pid))[1]) END)), '[]')
        FROM pg_stat_activity a WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid())::text
         AS backends
"""


@dataclass(frozen=True)
class Sample:
    at: float
    commits: int
    next_xid: int
    wal_bytes: int
    # Each client backend's address, state, wait type, wait event, query, and its blocker's state and query.
    backends: list[tuple[str | None, ...]]


@dataclass
class Activity:
    """Samples taken every SAMPLE_EVERY seconds until told to stop; `host_of` names a client address's host."""

    database_url: str
    host_of: Callable[[str | None], str] = lambda address: address or "local"
    samples: list[Sample] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        connection = await asyncpg.connect(self.database_url)
        try:
            while not stop.is_set():
                row = await connection.fetchrow(SAMPLE)
                self.samples.append(Sample(row["at"], row["commits"], row["next_xid"], row["wal_bytes"],
                                           [tuple(b) for b in json.loads(row["backends"])]))
                await asyncio.sleep(SAMPLE_EVERY)
        finally:
            await connection.close()

    def between(self, start: float, end: float) -> list[Sample]:
        return [sample for sample in self.samples if start <= sample.at <= end]

    def per_vote(self, start: float, end: float, votes_a_second: float) -> tuple[float, float, float] | None:
        """Commits, writing transactions and WAL bytes per confirmed vote over the window's samples (None: too few
        samples or no vote)."""
        window = self.between(start, end)
        if len(window) < 2 or votes_a_second <= 0:
            return None
        first, last = window[0], window[-1]
        votes = votes_a_second * (last.at - first.at)  # the votes confirmed in the window
        return ((last.commits - first.commits - (len(window) - 1)) / votes, (last.next_xid - first.next_xid) / votes,
                (last.wal_bytes - first.wal_bytes) / votes)

    def per_vote_text(self, start: float, end: float, votes_a_second: float) -> str:
        found = self.per_vote(start, end, votes_a_second)
        if found is None:
            return "too few samples"
        commits, writing, wal = found
        return (f"{commits:.2f} commits (pg_stat_database), of which {writing:.2f} wrote (transaction ids "
                f"assigned); {wal / 1024:.1f} kB of WAL")

    def backends(self, start: float, end: float) -> str:
        """The client backends: the most at once and by host, how many ran (on average), and what they waited on."""
        window = self.between(start, end)
        if not window:
            return "no sample"
        busiest = max(window, key=lambda sample: len(sample.backends))
        by_host = Counter(self.host_of(address) for address, *_ in busiest.backends)
        active = [[b for b in sample.backends if b[1] == "active"] for sample in window]
        in_transaction = [sum(1 for b in sample.backends if b[1] == "idle in transaction") for sample in window]
        waits = Counter(f"{b[2]}:{b[3]}" if b[2] else "on CPU" for running in active for b in running)
        total = sum(waits.values()) or 1
        return (f"{len(busiest.backends)} at most ({', '.join(f'{h} {n}' for h, n in sorted(by_host.items()))}); "
                f"active {statistics.mean(len(a) for a in active):.1f} on average, idle in a transaction "
                f"{statistics.mean(in_transaction):.1f}; the active ones: "
                + ", ".join(f"{name} {count / total:.0%}" for name, count in waits.most_common(5)))

    def holding(self, start: float, end: float) -> str:
        """The statements backends waited on a lock in and who held it, and those after which backends sat idle in a
        transaction."""
        window = self.between(start, end)
        waiting = [b for sample in window for b in sample.backends if b[1] == "active" and b[2] == "Lock"]
        idle = Counter(statement(b[4]) for sample in window for b in sample.backends if b[1] == "idle in transaction")
        return (f"waiting on a lock in: {shares(Counter(statement(b[4]) for b in waiting))}, held by backends "
                f"{shares(Counter(statement(b[5]) for b in waiting))}; idle in a transaction after: {shares(idle)}")


def statement(query: str | None) -> str:
    """A statement told by its first words (the service's statements differ in them)."""
    words = " ".join((query or "?").split())
    return words[:70] + ("…" if len(words) > 70 else "")


def shares(found: Counter[str], top: int = 3) -> str:
    total = sum(found.values())
    if not total:
        return "none sampled"
    return ", ".join(f"{name!r} {count / total:.0%}" for name, count in found.most_common(top)) + f" (n={total})"
