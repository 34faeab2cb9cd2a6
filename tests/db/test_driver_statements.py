"""Statements run by asyncpg itself under SQLAlchemy's pool (the counting statement): they fail as SQLAlchemy's own
statements do, so that callers' handling holds (a lost connection is told apart, and never handed out again)."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, String, bindparam, cast, literal_column, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.core.errors import VoteRejected
from gateway.db.driver_statements import DriverStatement, driver_transaction
from gateway.db.engine import Sessions, autocommit_connection
from gateway.db.models import OrderStatus, VoteOrder

DOUBLED = DriverStatement(select((bindparam("n", type_=Integer) * 2).label("doubled"),
                                 literal_column("pg_backend_pid()").label("pid")), ["n"])


async def test_a_statement_answers_with_its_constants_and_the_values_given(sessions: Sessions) -> None:
    async with autocommit_connection(sessions) as connection:
        row = await DOUBLED.fetchrow(connection, {"n": 21})
    assert row is not None and row["doubled"] == 42
    with pytest.raises(KeyError, match="'n'"):
        async with autocommit_connection(sessions) as connection:
            await DOUBLED.fetchrow(connection, {})


async def test_only_on_a_connection_that_commits_each_statement(sessions: Sessions) -> None:
    """In a transaction SQLAlchemy has not begun yet, the statement would run outside it."""
    async with sessions.begin() as session:
        connection = await session.connection()
        with pytest.raises(RuntimeError, match="AUTOCOMMIT"):
            await DOUBLED.fetchrow(connection, {"n": 1})


async def test_a_connection_lost_under_a_statement_is_told_apart_and_never_handed_out_again(
    sessions: Sessions, engine: AsyncEngine
) -> None:
    async with autocommit_connection(sessions) as connection:
        first = await DOUBLED.fetchrow(connection, {"n": 1})
        assert first is not None
        async with engine.connect() as other:  # PostgreSQL restarted, or the backend ended by an operator
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first["pid"]})
        with pytest.raises(DBAPIError) as raised:
            await DOUBLED.fetchrow(connection, {"n": 2})
        assert raised.value.connection_invalidated  # what the status checks' retry looks for
    async with autocommit_connection(sessions) as connection:
        again = await DOUBLED.fetchrow(connection, {"n": 3})
    assert again is not None and again["doubled"] == 6 and again["pid"] != first["pid"]


async def test_postgresqls_refusal_is_sqlalchemys_error_and_leaves_the_connection_in_use(sessions: Sessions) -> None:
    refusing = DriverStatement(select((1 / bindparam("n", type_=Integer)).label("share")), ["n"])
    async with autocommit_connection(sessions) as connection:
        before = await DOUBLED.fetchrow(connection, {"n": 1})
        with pytest.raises(DBAPIError) as raised:
            await refusing.fetchrow(connection, {"n": 0})  # division by zero: PostgreSQL's own refusal
        assert not raised.value.connection_invalidated
        after = await DOUBLED.fetchrow(connection, {"n": 1})
    assert before is not None and after is not None and after["pid"] == before["pid"]
    assert "division by zero" in str(raised.value)


async def test_an_argument_the_driver_cannot_send_leaves_the_connection_in_use(sessions: Sessions) -> None:
    """asyncpg refuses it before sending anything (a lone surrogate from a provider's JSON, say): no reconnect, and
    not a lost connection that a caller would retry."""
    echoing = DriverStatement(select(bindparam("word", type_=String).label("word")), ["word"])
    async with autocommit_connection(sessions) as connection:
        before = await DOUBLED.fetchrow(connection, {"n": 1})
        with pytest.raises(DBAPIError) as raised:
            await echoing.fetchrow(connection, {"word": "\udc80"})
        assert not raised.value.connection_invalidated
        after = await DOUBLED.fetchrow(connection, {"n": 1})
    assert before is not None and after is not None and after["pid"] == before["pid"]


NOTED = DriverStatement(text("INSERT INTO outbox (topic, payload) VALUES (:topic, '{}'::jsonb) RETURNING id")
                        .bindparams(bindparam("topic", type_=String)), ["topic"])
OUTBOX_TOPICS = text("SELECT topic FROM outbox ORDER BY id")


async def test_a_driver_transaction_commits_its_statements_together_or_none_of_them(sessions: Sessions) -> None:
    """The placement's statements (asyncpg's and SQLAlchemy's alike) are one transaction: a refusal after the first
    leaves nothing of it, and another connection sees nothing before the commit."""
    async with autocommit_connection(sessions) as connection, driver_transaction(connection):
        await NOTED.fetchrow(connection, {"topic": "first"})
        await connection.execute(text("INSERT INTO outbox (topic, payload) VALUES ('second', '{}'::jsonb)"))
        async with autocommit_connection(sessions) as other:
            assert (await other.execute(OUTBOX_TOPICS)).scalars().all() == []
    with pytest.raises(VoteRejected):
        async with autocommit_connection(sessions) as connection, driver_transaction(connection):
            await NOTED.fetchrow(connection, {"topic": "refused"})
            raise VoteRejected("refused after its first statement")
    async with autocommit_connection(sessions) as connection:
        assert (await connection.execute(OUTBOX_TOPICS)).scalars().all() == ["first", "second"]
        assert not (await connection.get_raw_connection()).driver_connection.is_in_transaction()


async def test_a_failed_statement_rolls_its_driver_transaction_back_and_the_connection_serves_again(
    sessions: Sessions
) -> None:
    refusing = DriverStatement(select((1 / bindparam("n", type_=Integer)).label("share")), ["n"])
    with pytest.raises(DBAPIError, match="division by zero"):
        async with autocommit_connection(sessions) as connection, driver_transaction(connection):
            await NOTED.fetchrow(connection, {"topic": "undone"})
            await refusing.fetchrow(connection, {"n": 0})
    async with autocommit_connection(sessions) as connection:
        assert (await connection.execute(OUTBOX_TOPICS)).scalars().all() == []
        row = await DOUBLED.fetchrow(connection, {"n": 2})
    assert row is not None and row["doubled"] == 4


async def test_typed_rows_read_as_sqlalchemy_answers_them(sessions: Sessions) -> None:
    """An enum column comes back as its member (code compares statuses by identity), not the driver's string."""
    status = DriverStatement(select(cast(bindparam("s", type_=String), VoteOrder.__table__.c.status.type)
                                    .label("status")), ["s"])
    async with autocommit_connection(sessions) as connection:
        row = await status.fetchrow(connection, {"s": "paid"})
        assert row is not None and row["status"] == "paid"
        assert status.typed(connection, row) == {"status": OrderStatus.PAID}
