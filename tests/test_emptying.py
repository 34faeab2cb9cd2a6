"""The suite's isolation: what one test leaves (rows in the models' tables, in a channel's, in the audit trail; the
ids it used) is gone when the next begins, however many rows it left, so no test passes or fails by the order
they run in."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.core.contests import rounds
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry
from tests.emptying import FEW_ROWS, Emptying, Reference, empty, plan
from tests.factories import make_contest, place
from tests.show_rounds import OWNER, a_show


@pytest.mark.parametrize("audit_rows", [3, FEW_ROWS + 1], ids=["few rows", "many rows"])
async def test_what_a_test_left_is_gone_and_ids_start_again(engine: AsyncEngine, emptying: Emptying,
                                                           sessions: Sessions, audit_rows: int) -> None:
    for _ in range(2):
        await place(sessions, await make_contest(sessions))
    async with sessions.begin() as session:
        await session.execute(insert(AuditEntry), [{"actor": "owner@example.org", "action": "contest.edit",
                                                    "target": "contest:1", "details": {}}] * audit_rows)
    async with engine.connect() as connection:
        held = {table: await connection.scalar(text(f"SELECT count(*) FROM {table}")) for table in emptying.tables}
    assert held["vote_orders"] == 2 and held["audit_log"] == audit_rows and held["telegram_contests"] == 2

    async with engine.begin() as connection:
        await empty(connection, emptying)

    async with engine.connect() as connection:
        assert {table: await connection.scalar(text(f"SELECT count(*) FROM {table}"))
                for table in emptying.tables} == dict.fromkeys(emptying.tables, 0)
    assert (await make_contest(sessions)).id == 1
    with pytest.raises(Exception, match="append-only"):  # the audit trail's guard is back on
        async with sessions.begin() as session:
            await session.execute(insert(AuditEntry).values(actor="a@example.org", action="x", details={}))
            await session.execute(text("DELETE FROM audit_log"))


def test_the_tables_that_refer_to_the_models_are_emptied_first() -> None:
    emptying = plan(["contests", "vote_orders"],
                    [Reference("vote_orders", "contests"), Reference("telegram_receipts", "vote_orders"),
                     Reference("sms_inbound", "other")],
                    [("contests_id_seq", "contests"), ("sms_inbound_id_seq", "sms_inbound")])
    assert emptying.tables == ("contests", "telegram_receipts", "vote_orders")
    assert emptying.delete_order == ("telegram_receipts", "vote_orders", "contests")
    assert emptying.sequences == ("contests_id_seq",)
    in_a_cycle = plan(["a", "b"], [Reference("a", "b"), Reference("b", "a")], [])
    assert in_a_cycle.delete_order is None  # TRUNCATE ... CASCADE empties them together


def test_a_cycle_through_a_reference_that_may_be_null_is_emptied_in_order_once_it_is_set_to_null() -> None:
    """A contest names its current round, which names its contest: the contest's reference goes first."""
    emptying = plan(["contests"], [Reference("contest_rounds", "contests", ("contest_id",)),
                                   Reference("contests", "contest_rounds", ("current_round_id",), nullable=True),
                                   Reference("vote_orders", "contest_rounds", ("round_id",), nullable=True)], [])
    assert emptying.unlinked == (("contests", ("current_round_id",)),)
    assert emptying.delete_order == ("vote_orders", "contest_rounds", "contests")


async def test_a_test_that_left_a_few_rows_is_emptied_without_truncate(engine: AsyncEngine, emptying: Emptying,
                                                                       sessions: Sessions) -> None:
    """TRUNCATE gives each table new files, half a second on every test: a contest in a round, its votes, are a few
    rows that DELETE removes, its tables keeping their files."""
    contest, _ = await a_show(sessions)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    await place(sessions, contest)
    files = text("SELECT relname, relfilenode FROM pg_class WHERE relname IN ('contests', 'contest_rounds',"
                 " 'vote_orders')")
    async with engine.connect() as connection:
        before = dict((await connection.execute(files)).all())
    async with engine.begin() as connection:
        await empty(connection, emptying)
    async with engine.connect() as connection:
        assert dict((await connection.execute(files)).all()) == before
        assert await connection.scalar(text("SELECT count(*) FROM contests")) == 0
