"""The async SQLAlchemy engine and sessions over asyncpg."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from asyncpg.exceptions import InternalClientError
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_

log = logging.getLogger(__name__)

# What every part of the project is handed to open sessions with (made by `session_factory`).
Sessions = async_sessionmaker[AsyncSession]

# A connection unused for longer than this is pinged before use: a firewall or proxy may have
# dropped it silently. A busy pool's connections are never this idle, so they cost no round trip.
PING_IF_IDLE_SECONDS = 20.0
# A forgotten connection does not answer the ping at all (nothing is reset or closed; TCP would give
# up after a quarter of an hour): past this it is taken for dead and replaced.
PING_TIMEOUT_SECONDS = 2.0


def async_url(url: str) -> str:
    """Accept the usual `postgresql://` forms and pick the asyncpg driver."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"DATABASE_URL must be a PostgreSQL URL, got {parsed.get_backend_name()!r}")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int | None = None,
                  ping_if_idle: float = PING_IF_IDLE_SECONDS,
                  statement_timeout_seconds: float | None = None,
                  connect_timeout_seconds: float | None = None) -> AsyncEngine:
    """`pool_size` connections are kept; up to `max_overflow` more are opened under a burst and
    closed after it (each new one connects, prepares statements and looks up our enum types).
    A connection idle for over `ping_if_idle` seconds is pinged before it is handed out.

    With `statement_timeout_seconds`, a statement not answered by then fails, and asyncpg closes its
    connection (so the pool drops it): a database that failed over, or a network that split, leaves
    connections in use silent, and without it each would hang until TCP gives up. With
    `connect_timeout_seconds`, a new connection not made by then fails (asyncpg's own limit is 60 s)."""
    connect_args: dict[str, float] = {}
    if statement_timeout_seconds is not None:
        connect_args["command_timeout"] = statement_timeout_seconds
    if connect_timeout_seconds is not None:
        connect_args["timeout"] = connect_timeout_seconds
    # hide_parameters: a statement's error names its SQL, never its values: those are TOTP secrets as they are
    # sealed, phone numbers, provider references, and the message goes to logs and tracebacks.
    engine = create_async_engine(async_url(url), pool_size=pool_size, connect_args=connect_args,
                                 max_overflow=pool_size if max_overflow is None else max_overflow, pool_recycle=1800,
                                 hide_parameters=True)
    # Not pool_pre_ping: with asyncpg it is BEGIN, SELECT, ROLLBACK before every transaction,
    # three round trips that were most of a vote's database time.
    event.listen(engine.sync_engine, "checkout", partial(replace_dead_connection, ping_if_idle=ping_if_idle))
    event.listen(engine.sync_engine, "checkin", note_returned)
    event.listen(engine.sync_engine, "handle_error", count_half_closed_as_disconnected)
    return engine


def count_half_closed_as_disconnected(context: ExceptionContext) -> None:
    """A connection whose server has just been terminated (a restart, `pg_terminate_backend`) can
    be used in the moment between PostgreSQL's goodbye and the socket's close: asyncpg then
    raises an InternalClientError ("cannot switch to state …"), which SQLAlchemy does not take for
    a disconnect. It is one: the pool is to drop its connections, and the caller may retry."""
    cause = context.original_exception.__cause__ or context.original_exception
    if isinstance(cause, InternalClientError) and "cannot switch to state" in str(cause):
        log.warning("a PostgreSQL connection was closed by the server under us: reconnecting (%s)", cause)
        context.is_disconnect = True


def replace_dead_connection(_dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: object, *,
                            ping_if_idle: float = PING_IF_IDLE_SECONDS) -> None:
    """Hand out only live connections; the pool retries with a fresh one on DisconnectionError.

    asyncpg sees PostgreSQL close a socket (a restart, `pg_terminate_backend`) by itself, so that
    check is free; only a long-idle connection, which may have been dropped without a word, is pinged.
    """
    driver = record.driver_connection
    if driver is None or driver.is_closed():
        raise DisconnectionError("PostgreSQL closed this connection")
    if time.monotonic() - record.info.get("returned_at", time.monotonic()) > ping_if_idle:
        try:  # the driver's own query, for its time limit (the adapter's ping() has none); a simple
            # query, no prepared statement, so it also holds behind pgbouncer in transaction mode
            await_(driver.execute("SELECT 1", timeout=PING_TIMEOUT_SECONDS))
        except Exception as exc:
            driver.terminate()  # at once: a polite close would wait on the silent connection too
            raise DisconnectionError("a long-idle connection no longer answers") from exc


def note_returned(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info["returned_at"] = time.monotonic()


def session_factory(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def autocommit_connection(sessions: Sessions) -> AsyncIterator[AsyncConnection]:
    """Like `autocommit`, without the ORM session around the connection: for the hottest Core
    statements (an ORM session's bookkeeping costs more than such a statement's own work)."""
    engine = sessions.kw["bind"]
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


@asynccontextmanager
async def autocommit(sessions: Sessions) -> AsyncIterator[AsyncSession]:
    """A session whose statements each run (and commit) on their own: no BEGIN and ROLLBACK round
    trips, which a plain read pays for nothing. Each statement sees its own snapshot; use
    `sessions()` where two reads must agree, `sessions.begin()` where writes must go together."""
    async with sessions() as session:
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session
