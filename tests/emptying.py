"""Emptying the tables between tests, as `TRUNCATE <the models' tables> RESTART IDENTITY CASCADE` would: the models'
tables, every table that refers to one (a channel's own), their sequences started again.

TRUNCATE gives every table and index a new file, whatever it holds: about half a second on the embedded
PostgreSQL, paid by every test. A test leaves a few rows in a few tables, which DELETE removes in milliseconds. So
the tables are counted first (up to a bound, one statement); the ones holding rows are emptied by DELETE, those
that refer to others first; the sequences that moved start again. A test that left many rows is emptied by TRUNCATE,
whose cost does not grow with them. Two tables that refer to each other (a contest and its current round) are put in
order by setting the nullable side's reference to NULL first; only a cycle of references that may not be NULL leaves
TRUNCATE as the only way."""

from __future__ import annotations

import graphlib
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# Past this many rows in one table, DELETE (its triggers, its foreign-key checks) costs more than TRUNCATE.
FEW_ROWS = 2000
AUDIT_TABLE = "audit_log"
# The audit trail refuses UPDATE, DELETE and TRUNCATE (its triggers): between tests alone it is emptied, its triggers
# off inside the emptying's transaction only. The tests' role owns the tables (it ran the migrations) or is CI's
# superuser: either may, on any PostgreSQL.
AUDIT_TRIGGERS = ("audit_log_append_only", "audit_log_no_truncate")

# Each foreign key: the table that refers, the one it refers to, its columns, and whether they may all be NULL.
REFERENCES = text("""
    SELECT child.relname, parent.relname,
           array(SELECT a.attname FROM pg_attribute a
                 WHERE a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) ORDER BY a.attnum) AS columns,
           NOT EXISTS (SELECT FROM pg_attribute a
                       WHERE a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) AND a.attnotnull) AS nullable
    FROM pg_constraint c
    JOIN pg_class child ON child.oid = c.conrelid
    JOIN pg_class parent ON parent.oid = c.confrelid
    WHERE c.contype = 'f' AND child.relnamespace = current_schema()::regnamespace
""")
OWNED_SEQUENCES = text("""
    SELECT seq.relname, owner.relname
    FROM pg_depend d
    JOIN pg_class seq ON seq.oid = d.objid AND seq.relkind = 'S'
    JOIN pg_class owner ON owner.oid = d.refobjid
    WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
      AND seq.relnamespace = current_schema()::regnamespace
""")
# A sequence's last value is NULL until it is first used, and again once set back to its start.
RESTART_MOVED = text("""
    SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false) FROM pg_sequences
    WHERE schemaname = current_schema() AND sequencename = ANY(:names) AND last_value IS NOT NULL
""")


@dataclass(frozen=True)
class Reference:
    """A foreign key: `child`'s `columns` refer to `parent`; `nullable` when they may all be NULL."""

    child: str
    parent: str
    columns: tuple[str, ...] = ()
    nullable: bool = False


@dataclass(frozen=True)
class Emptying:
    """What is emptied, and in which order DELETE may do it (None: foreign keys in a cycle none of whose references
    may be NULL, TRUNCATE only), once `unlinked` (table, its columns) are set to NULL."""

    tables: tuple[str, ...]
    delete_order: tuple[str, ...] | None
    sequences: tuple[str, ...]
    unlinked: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def row_counts(self) -> str:
        """One statement: each table's rows, counted no further than one past FEW_ROWS."""
        return " UNION ALL ".join(f"SELECT '{table}', count(*) FROM (SELECT FROM {table} LIMIT {FEW_ROWS + 1}) AS s"
                                  for table in self.tables)


def plan(models: Iterable[str], references: Iterable[Reference], owned: Iterable[tuple[str, str]]) -> Emptying:
    """The models' tables and those referring to them (as CASCADE finds them), those that refer before those they
    refer to, and the sequences of them all."""
    referred_by: dict[str, set[str]] = {}
    by_edge: dict[tuple[str, str], list[Reference]] = {}
    for reference in references:
        if reference.child != reference.parent:
            referred_by.setdefault(reference.parent, set()).add(reference.child)
            by_edge.setdefault((reference.child, reference.parent), []).append(reference)
    tables = set(models)
    found = list(tables)
    while found:
        for child in referred_by.get(found.pop(), ()):
            if child not in tables:
                tables.add(child)
                found.append(child)
    graph = {table: referred_by.get(table, set()) & tables for table in tables}
    order, unlinked = ordered(graph, by_edge)
    sequences = tuple(sorted(sequence for sequence, owner in owned if owner in tables))
    return Emptying(tuple(sorted(tables)), order, sequences, unlinked)


def ordered(graph: dict[str, set[str]], by_edge: Mapping[tuple[str, str], list[Reference]]
            ) -> tuple[tuple[str, ...] | None, tuple[tuple[str, tuple[str, ...]], ...]]:
    """Those that refer first; a cycle is broken where every reference of one table to the next may be NULL (set
    to NULL before the DELETEs). None where a cycle cannot be broken so."""
    unlinked: list[tuple[str, tuple[str, ...]]] = []
    while True:
        try:
            return tuple(graphlib.TopologicalSorter(graph).static_order()), tuple(unlinked)
        except graphlib.CycleError as cycle:
            # Each table of the cycle is a predecessor of the next: it refers to it.
            steps = list(itertools.pairwise(cycle.args[1]))
            breakable = [step for step in steps if all(reference.nullable for reference in by_edge[step])]
            if not breakable:
                return None, ()
            child, parent = breakable[0]
            graph[parent].discard(child)
            unlinked += [(child, reference.columns) for reference in by_edge[(child, parent)]]


async def planned(connection: AsyncConnection, models: Iterable[str]) -> Emptying:
    references = [Reference(str(child), str(parent), tuple(columns), bool(nullable))
                  for child, parent, columns, nullable in (await connection.execute(REFERENCES)).all()]
    owned = [(str(sequence), str(owner)) for sequence, owner in (await connection.execute(OWNED_SEQUENCES)).all()]
    return plan(models, references, owned)


async def empty(connection: AsyncConnection, emptying: Emptying) -> None:
    """Empty the tables inside the connection's transaction."""
    counts = {str(table): int(count) for table, count in (await connection.execute(text(emptying.row_counts()))).all()}
    holding = {table for table, count in counts.items() if count}
    if emptying.delete_order is None or any(count > FEW_ROWS for count in counts.values()):
        await _with_audit_triggers_off(connection, f"TRUNCATE {', '.join(emptying.tables)} RESTART IDENTITY CASCADE")
    elif holding:
        statements = [f"UPDATE {table} SET {', '.join(f'{column} = NULL' for column in columns)}"
                      f" WHERE {' OR '.join(f'{column} IS NOT NULL' for column in columns)}"
                      for table, columns in emptying.unlinked if table in holding]
        statements += [f"DELETE FROM {table}" for table in emptying.delete_order if table in holding]
        if AUDIT_TABLE in holding:
            await _with_audit_triggers_off(connection, *statements)
        else:
            await _run(connection, statements)
    await connection.execute(RESTART_MOVED, {"names": list(emptying.sequences)})


async def _with_audit_triggers_off(connection: AsyncConnection, *statements: str) -> None:
    await _run(connection, [f"ALTER TABLE {AUDIT_TABLE} DISABLE TRIGGER {trigger}" for trigger in AUDIT_TRIGGERS])
    await _run(connection, statements)
    await _run(connection, [f"ALTER TABLE {AUDIT_TABLE} ENABLE TRIGGER {trigger}" for trigger in AUDIT_TRIGGERS])


async def _run(connection: AsyncConnection, statements: Iterable[str]) -> None:
    for statement in statements:
        await connection.execute(text(statement))
