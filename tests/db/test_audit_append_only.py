"""The audit trail is append-only in PostgreSQL itself, for TRUNCATE as for UPDATE and DELETE: whoever
holds a database connection (a script, a console opened on show night) cannot wipe it."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry


async def test_postgresql_refuses_to_truncate_the_audit_log(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        await audit.record(session, Actor(None, "cli", "owner"), "admin.create", "owner@example.com")
    for statement in ("TRUNCATE audit_log", "TRUNCATE audit_log RESTART IDENTITY CASCADE",
                      "TRUNCATE admin_users, audit_log CASCADE"):
        async with sessions.begin() as session:
            try:
                await session.execute(text(statement))
            except DBAPIError as exc:
                assert "append-only: TRUNCATE refused" in str(exc)
            else:
                raise AssertionError(f"{statement} went through")
    async with sessions() as session:
        kept = (await session.scalars(select(AuditEntry))).all()
    assert [(entry.actor, entry.action) for entry in kept] == [("cli", "admin.create")]
