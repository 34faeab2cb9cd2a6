"""The counting statement's own plan, under EXPLAIN (ANALYZE, BUFFERS, WAL): where its time and writes go inside.

The statement that counts a paid vote is one PostgreSQL statement of many parts (the order's update, the fraud
figures it judges by, the ledger's entry and head, the tally, the outbox rows, the verification queue, the
callback's event). Its CPU by statement (`bench.statements`) says what it costs in all; its plan says which part
costs what. It is the statement the service runs (`KEEPING_AND_QUEUEING`, the callback's path, as compiled for
asyncpg) with the parameters it passes, on orders the benchmark left pending, each in a transaction rolled back:
nothing is counted.

A plan's times are inclusive (a node's include its children's); each write's own share is its node's less its
children's. The foreign keys' checks run as triggers after the statement, told apart by constraint. At rest, one
count at a time: under load the same statement costs more CPU (bench.statements), the rest being contention.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from gateway.core.orders import counting
from gateway.core.orders.kept_events import EventToKeep
from gateway.db.engine import create_engine
from gateway.db.models import OrderStatus, VoteOrder

EXPLAIN = "EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) "


@dataclass
class Part:
    label: str
    own_ms: float = 0.0
    wal_records: int = 0
    wal_bytes: int = 0


@dataclass
class Plans:
    runs: int = 0
    planning_ms: float = 0.0
    execution_ms: float = 0.0
    parts: dict[str, Part] = field(default_factory=dict)
    triggers: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, plan: dict[str, Any]) -> None:
        self.runs += 1
        self.planning_ms += plan.get("Planning Time", 0.0)
        self.execution_ms += plan["Execution Time"]
        walk(plan["Plan"], self.parts)
        for trigger in plan.get("Triggers", []):
            self.triggers[trigger.get("Constraint Name") or trigger["Trigger Name"]] += trigger["Time"]


def label_of(node: dict[str, Any]) -> str:
    return f"{node['Operation'].lower()} {node['Relation Name']}"


def walk(node: dict[str, Any], parts: dict[str, Part]) -> None:
    """Each write's own share: a ModifyTable node's figures less its children's. Its children are what it reads
    to write, and whatever those pull first (a CTE is run by the first node that reads it), so the rest is the
    write itself: the row, its index entries, its WAL. Reads and joins are left to the statement's rest."""
    children = node.get("Plans", [])
    if node["Node Type"] == "ModifyTable":
        part = parts.setdefault(label_of(node), Part(label_of(node)))
        part.own_ms += node["Actual Total Time"] - sum(child["Actual Total Time"] for child in children)
        part.wal_records += node.get("WAL Records", 0) - sum(child.get("WAL Records", 0) for child in children)
        part.wal_bytes += node.get("WAL Bytes", 0) - sum(child.get("WAL Bytes", 0) for child in children)
    for child in children:
        walk(child, parts)


async def counting_plans(database_url: str, orders: int = 30) -> Plans:
    """The counting statement's plan on up to `orders` pending orders, each counted and rolled back."""
    engine = create_engine(database_url, pool_size=1)
    found = Plans()
    plans: list[dict[str, Any]] = []
    compiled = counting.KEEPING_AND_QUEUEING.compiled(engine.dialect)  # as the callback's path runs it
    try:
        async with engine.connect() as connection:
            pending = (await connection.execute(
                select(VoteOrder.id, VoteOrder.amount, VoteOrder.currency, VoteOrder.provider)
                .where(VoteOrder.status == OrderStatus.PENDING).limit(orders))).all()
            await connection.rollback()
            for order in pending:
                transaction = await connection.begin()
                txn = f"plan-{uuid.uuid4().hex[:12]}"
                event = EventToKeep(order.provider, None, order.id, "plan", {"content-type": "application/json"},
                                    b'{"status": "SUCCESSFUL"}')
                arguments = compiled.arguments(counting.counting_parameters(
                    order.id, "SUCCESSFUL", order.amount, order.currency, txn, provider=order.provider)
                    | event.parameters())
                for (row,) in await connection.exec_driver_sql(EXPLAIN + compiled.sql, tuple(arguments)):
                    plans.extend(json.loads(row) if isinstance(row, str) else row)  # one plan, in a list
                await transaction.rollback()
    finally:
        await engine.dispose()
    for plan in plans:
        found.add(plan)
    return found


def report(found: Plans) -> str:
    if not found.runs:
        return "no pending order to explain"
    runs = found.runs
    writes = sorted(found.parts.values(), key=lambda part: -part.own_ms)
    checks = sum(found.triggers.values())
    rest = found.execution_ms - sum(part.own_ms for part in writes) - checks
    lines = [f"{runs} orders counted and rolled back, one at a time with no other load (wall time): planning "
             f"{found.planning_ms / runs * 1000:.0f} us (first five custom plans included), execution "
             f"{found.execution_ms / runs * 1000:.0f} us; of it the writes below, foreign key checks "
             f"{checks / runs * 1000:.0f}, reads and judging {rest / runs * 1000:.0f}; WAL "
             f"{sum(part.wal_records for part in writes) / runs:.1f} records, "
             f"{sum(part.wal_bytes for part in writes) / runs:.0f} B"]
    for part in writes:
        lines.append(f"{part.own_ms / runs * 1000:6.0f} us  WAL "
                     f"{part.wal_records / runs:4.1f} records {part.wal_bytes / runs:5.0f} B  | {part.label}")
    for name, ms in sorted(found.triggers.items(), key=lambda item: -item[1]):
        lines.append(f"{ms / runs * 1000:6.0f} us  foreign key check after the statement | {name}")
    return "\n".join(lines)
