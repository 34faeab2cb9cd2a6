"""The hottest Core statements of a vote, compiled by SQLAlchemy once and run by asyncpg itself.

Executing a built Core statement costs SQLAlchemy more than the statement costs asyncpg: the compiled cache's
lookup (the key of an eight-CTE statement is a large tuple, hashed and compared on every call), every parameter
gathered and processed, the execution context and the result's metadata. For the counting statement that is
~0.2 ms of a web process's CPU per vote against asyncpg's ~0.08 ms (bench/README.md). A `DriverStatement` is
compiled once per dialect; a call processes only the parameters given at run time (the constants were processed
when it was compiled) and hands them to the asyncpg connection under the pooled one, which keeps its own prepared
statement per connection as SQLAlchemy's adapter does.

Only on a connection in AUTOCOMMIT mode (`autocommit_connection`): SQLAlchemy begins its transactions lazily, so on
any other connection the statement could run outside the transaction it seems to be in. Rows come back as asyncpg
records, with no type of SQLAlchemy's applied (an enum is its string), so these are kept to statements whose
answer is a few plain columns, or whose rows are read through `typed` (SQLAlchemy's result types applied: an enum
its member); `driver_transaction` groups such statements in one transaction begun and ended on the driver. A
connection lost (as SQLAlchemy judges it) or a call cancelled midway invalidates the connection, so that the pool
never hands it out again; errors reach callers as SQLAlchemy would raise them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from asyncpg.exceptions import InterfaceError, InternalClientError, PostgresError
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeEngine

ASYNCPG_ERRORS = (PostgresError, InterfaceError, InternalClientError)


@dataclass(frozen=True, slots=True)
class Compiled:
    sql: str
    names: tuple[str, ...]  # the positional parameters, $1 first
    constants: Mapping[str, Any]  # parameters bound when the statement was built, processed already
    processors: Mapping[str, Callable[[Any], Any]]  # for the parameters given at each call
    answers: tuple[tuple[str, TypeEngine[Any]], ...]  # each answered column's name and type

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """In the statement's order; a parameter neither given nor constant raises KeyError, naming it."""
        return [self.constants[name] if name not in params
                else self.processors[name](params[name]) if name in self.processors else params[name]
                for name in self.names]


MAX_CACHEABLE_STATEMENT = 15 * 1024  # asyncpg's `max_cacheable_statement_size`, which the engine leaves as it is


def compile_for(statement: Executable, dialect: Dialect, given: Sequence[str]) -> Compiled:
    """`given`: the names of the parameters each call passes; every other one is a constant of the statement."""
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    names = tuple(compiled.positiontup or ())
    processors = compiled._bind_processors  # the bound types' conversions, as SQLAlchemy applies them
    values = compiled.construct_params({name: None for name in given})
    constants = {name: processors[name](values[name]) if name in processors else values[name]
                 for name in names if name not in given}
    if len(compiled.string) > MAX_CACHEABLE_STATEMENT:  # asyncpg would prepare (and plan) it afresh every time
        raise ValueError(f"a statement of {len(compiled.string)} characters is past asyncpg's statement cache")
    answers = tuple((column.keyname, column.type) for column in compiled._result_columns)
    return Compiled(compiled.string, names, constants, {k: v for k, v in processors.items() if k in given}, answers)


class DriverStatement:
    def __init__(self, statement: Executable, given: Sequence[str]) -> None:
        self._statement = statement
        self._given = tuple(given)
        self._compiled: dict[str, Compiled] = {}
        self._conversions: dict[str, tuple[tuple[str, Callable[[Any], Any] | None], ...]] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        key = f"{dialect.name}+{dialect.driver}"
        if key not in self._compiled:
            self._compiled[key] = compile_for(self._statement, dialect, self._given)
        return self._compiled[key]

    async def fetchrow(self, connection: AsyncConnection, params: Mapping[str, Any]) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._run(
            connection, lambda driver, sql, arguments: driver.fetchrow(sql, *arguments[0]), [params])
        return row

    async def fetch(self, connection: AsyncConnection, params: Mapping[str, Any]) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._run(
            connection, lambda driver, sql, arguments: driver.fetch(sql, *arguments[0]), [params])
        return rows

    def typed(self, connection: AsyncConnection, row: asyncpg.Record) -> dict[str, Any]:
        """A row as SQLAlchemy would have answered it, by column name (an enum its member, an array a list). For
        statements answering types whose conversion SQLAlchemy picks by the driver's own type (not a numeric)."""
        dialect = connection.dialect
        key = f"{dialect.name}+{dialect.driver}"
        if key not in self._conversions:
            self._conversions[key] = tuple((name, type_.dialect_impl(dialect).result_processor(dialect, None))
                                           for name, type_ in self.compiled(dialect).answers)
        return {name: value if convert is None else convert(value)
                for (name, convert), value in zip(self._conversions[key], row.values(), strict=True)}

    async def fetchmany(self, connection: AsyncConnection, params: Sequence[Mapping[str, Any]]) -> list[asyncpg.Record]:
        """The statement once for each of `params`, pipelined in one round trip and one implicit transaction:
        all of them committed together (one WAL flush), or none (asyncpg's `fetchmany`). Their rows come in one
        list, in order: a statement whose answers must be told apart answers exactly one row each time."""
        rows: list[asyncpg.Record] = await self._run(
            connection, lambda driver, sql, arguments: driver.fetchmany(sql, arguments), params)
        return rows

    async def _run(self, connection: AsyncConnection,
                   call: Callable[[asyncpg.Connection, str, list[list[Any]]], Awaitable[Any]],
                   params: Sequence[Mapping[str, Any]]) -> Any:
        compiled = self.compiled(connection.dialect)
        pooled = await connection.get_raw_connection()
        adapted: Any = pooled.dbapi_connection
        if adapted is None or not adapted.autocommit:
            raise RuntimeError("a DriverStatement runs only on a connection in AUTOCOMMIT mode")
        driver: asyncpg.Connection = pooled.driver_connection
        arguments = [compiled.arguments(one) for one in params]
        try:
            return await call(driver, compiled.sql, arguments)
        except Exception as error:
            # Lost as SQLAlchemy judges it: not an argument asyncpg could not encode (its DataError, raised before
            # anything is sent), which leaves the connection well.
            lost = driver.is_closed() or isinstance(error, InternalClientError)
            if lost:
                await connection.invalidate()
            if not isinstance(error, ASYNCPG_ERRORS):
                raise  # a time-out, an OSError: as SQLAlchemy lets them through
            raise as_sqlalchemy_raises(error, adapted, compiled.sql, arguments[0], connection.dialect, lost) from error
        except BaseException:  # cancelled in the middle: what the connection holds is unknown
            await connection.invalidate()
            raise


@contextlib.asynccontextmanager
async def driver_transaction(connection: AsyncConnection) -> AsyncIterator[None]:
    """One transaction (READ COMMITTED, the server's default) begun and ended by the driver on a connection in
    AUTOCOMMIT mode, around `DriverStatement`s and Core statements alike: SQLAlchemy begins none of its own there, so
    both run in it. Committed when the block ends, rolled back when it raises. A connection left in the transaction
    (cancelled in the middle of its BEGIN, COMMIT or ROLLBACK) or lost is invalidated: the pool never hands it out
    again."""
    pooled = await connection.get_raw_connection()
    adapted: Any = pooled.dbapi_connection
    if adapted is None or not adapted.autocommit:
        raise RuntimeError("a driver transaction runs only on a connection in AUTOCOMMIT mode")
    driver: asyncpg.Connection = pooled.driver_connection
    transaction = driver.transaction()
    try:
        try:
            await transaction.start()
        except ASYNCPG_ERRORS as error:
            raise as_sqlalchemy_raises(error, adapted, "BEGIN", [], connection.dialect, driver.is_closed()) from error
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):  # a connection lost meanwhile: invalidated below
                await transaction.rollback()
            raise
        try:
            await transaction.commit()
        except ASYNCPG_ERRORS as error:
            raise as_sqlalchemy_raises(error, adapted, "COMMIT", [], connection.dialect, driver.is_closed()) from error
    finally:
        if driver.is_closed() or driver.is_in_transaction():
            await connection.invalidate()


def as_sqlalchemy_raises(error: Exception, adapted: Any, sql: str, arguments: list[Any], dialect: Dialect,
                         lost: bool) -> Exception:
    """The error as SQLAlchemy would have raised it (`IntegrityError`, a `DBAPIError` whose `connection_invalidated`
    says the connection was lost…), which is what callers catch."""
    try:
        adapted._handle_exception(error)  # raises the DB-API error SQLAlchemy's asyncpg adapter makes of it
    except Exception as translated:
        return DBAPIError.instance(sql, arguments, translated, dialect.loaded_dbapi.Error,
                                   connection_invalidated=lost, dialect=dialect)
    return error
