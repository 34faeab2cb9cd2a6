"""Statements run by asyncpg itself under SQLAlchemy's pool (the counting statement): they fail as SQLAlchemy's own
statements do, so that callers' handling holds (a lost connection is told apart, and never handed out again)."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, String, bindparam, literal_column, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.db.driver_statements import DriverStatement
from gateway.db.engine import Sessions, autocommit_connection

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
