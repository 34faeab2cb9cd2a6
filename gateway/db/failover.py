"""Telling a primary lost (a failover under way) from any other database error, and waiting for the next one.

On a show's cluster (deploy/cluster/README.md) the service reaches PostgreSQL's primary through an HAProxy that
follows Patroni's leader lock. When the primary dies, is cut off or is demoted, the statements in flight fail in a
few known ways: the connection is closed or reset under them (HAProxy cuts every session to a node it no longer
sends to), the server says it is shutting down (57P01, 57P02) or not accepting connections yet (57P03), a demoted
node refuses a write (25006, read-only transaction), or no connection can be made at all until the new primary is
in. Those are worth waiting out and retrying where the retry is safe; anything else is a real error.

A COMMIT cut this way has an unknown outcome: it may have reached the synchronous standby (which Patroni promotes:
then it counts) or not (then the old primary's local copy is rewound away). Only a caller that can find its work
again by a key of its own may retry; `durably_present` is how it looks (see gateway.core.orders.placing).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

log = logging.getLogger(__name__)

T = TypeVar("T")

# SQLSTATEs of a primary going away or gone: read-only transaction (a demoted primary, or a replica reached by
# mistake), admin shutdown, crash shutdown, cannot connect now (starting up, or promoting). Class 08 (connection
# exceptions) too, by prefix.
LOST_PRIMARY_STATES = frozenset({"25006", "57P01", "57P02", "57P03"})
# Patroni's default leader TTL is 30 s: a new primary is in by then, and HAProxy sends to it a second or two after.
PRIMARY_WAIT_SECONDS = 35.0


class PrimaryUnavailable(Exception):
    """No primary took the work within the wait: nothing was written, or, for a cut COMMIT whose work could not be
    looked up, nothing is known. Answered 503 with Retry-After (assembly.web.middleware)."""


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE PostgreSQL answered, through SQLAlchemy's wrapping or asyncpg's own exception."""
    orig = getattr(exc, "orig", None)
    for error in (exc, orig, exc.__cause__, getattr(orig, "__cause__", None)):
        state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


def primary_lost(exc: BaseException) -> bool:
    """Whether `exc` is how a statement fails when the primary goes away or has not yet been replaced (see the
    module's docstring), rather than a refusal of the statement itself."""
    if isinstance(exc, PrimaryUnavailable):  # the wait for one is over: not to be waited out again
        return False
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    state = sqlstate_of(exc)
    if state is not None:
        return state in LOST_PRIMARY_STATES or state.startswith("08")
    if isinstance(exc, (OperationalError, InterfaceError)):  # closed under us, or no connection could be made
        return True
    cause = exc.__cause__ or getattr(exc, "orig", None)
    return isinstance(exc, (ConnectionError, OSError)) or (
        cause is not None and cause is not exc and isinstance(cause, (ConnectionError, OSError)))


async def through_failover(attempt: Callable[[], Awaitable[T]], *, what: str,
                           wait_seconds: float = PRIMARY_WAIT_SECONDS) -> T:
    """`attempt()` again until it runs on a primary, for up to `wait_seconds`; `PrimaryUnavailable` after that. Only
    for work that is safe to run twice: a read, or a write that finds what an earlier attempt did (a key of its own)."""
    deadline = time.monotonic() + wait_seconds
    pause = 0.2
    while True:
        try:
            return await attempt()
        except Exception as exc:
            if not primary_lost(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise PrimaryUnavailable(f"no PostgreSQL primary took {what} within {wait_seconds:.0f} s") from exc
            log.warning("%s: the PostgreSQL primary is away (%s); trying again in %.1f s", what,
                        type(exc).__name__, pause)
        await asyncio.sleep(pause)
        pause = min(pause * 2, 2.0)
