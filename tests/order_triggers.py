"""PostgreSQL itself failing or slowing a write to an order or its provider events, for as long as a block lasts: a
trigger run before each update of `vote_orders` (or insert into `provider_events`), which is how a full disk, a lock
held elsewhere or a process dying between two writes looks to the code under test (nothing of the project's is
patched)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from gateway.db.engine import Sessions


@asynccontextmanager
async def before_order_updates(sessions: Sessions, name: str, body: str, *,
                               counter: str | None = None) -> AsyncIterator[None]:
    """Run `body` (PL/pgSQL, OLD and NEW in scope; `RETURN NEW` follows it) before each order's update, under a
    trigger and function called `name`; `counter`: a sequence of that name for the body to count with (a rollback
    does not undo `nextval`)."""
    async with before_writes(sessions, name, body, "UPDATE ON vote_orders", counter=counter):
        yield


@asynccontextmanager
async def before_event_inserts(sessions: Sessions, name: str, body: str) -> AsyncIterator[None]:
    """Run `body` before each provider event is kept (an insert into `provider_events`), as `before_order_updates`."""
    async with before_writes(sessions, name, body, "INSERT ON provider_events"):
        yield


@asynccontextmanager
async def before_writes(sessions: Sessions, name: str, body: str, writes: str, *,
                        counter: str | None = None) -> AsyncIterator[None]:
    """`body` run before `writes` ("UPDATE ON vote_orders") under a trigger and function called `name`."""
    table = writes.rsplit(" ", 1)[1]
    async with sessions.begin() as session:
        if counter:
            await session.execute(text(f"CREATE SEQUENCE {counter}"))
        await session.execute(text(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                                   f"{body} RETURN NEW; END $$"))
        await session.execute(text(f"CREATE TRIGGER {name} BEFORE {writes} FOR EACH ROW EXECUTE FUNCTION {name}()"))
    try:
        yield
    finally:
        async with sessions.begin() as session:
            await session.execute(text(f"DROP TRIGGER {name} ON {table}"))
            await session.execute(text(f"DROP FUNCTION {name}()"))
            if counter:
                await session.execute(text(f"DROP SEQUENCE {counter}"))


def until_order_paid(seconds: float = 10.0) -> str:
    """PL/pgSQL that waits for the order of the row being written (`NEW.order_id`) to be paid, failing the write
    clearly if it is not within `seconds`."""
    return (f"FOR i IN 1..{int(seconds / 0.025)} LOOP EXIT WHEN EXISTS (SELECT 1 FROM vote_orders "
            "WHERE id = NEW.order_id AND status = 'paid'); PERFORM pg_sleep(0.025); END LOOP; "
            "IF NOT EXISTS (SELECT 1 FROM vote_orders WHERE id = NEW.order_id AND status = 'paid') THEN "
            f"RAISE EXCEPTION 'the order was not paid within {seconds} s'; END IF;")
