"""The audit trail: every admin action, who, when, from where, what, before and after.

Rows are written in the same transaction as the change they describe (an action rolled back leaves no
entry claiming it was done), and PostgreSQL refuses to update or delete them (migration 0008's trigger).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who acts: an admin account (id, email, role) from an address; the CLI is `cli` from nowhere."""

    admin_id: int | None
    email: str
    role: str
    address: str | None = None


async def record(session: AsyncSession, actor: Actor, action: str, target: str | None, *,
                 before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
                 details: dict[str, Any] | None = None) -> None:
    await session.execute(insert(AuditEntry).values(
        actor=actor.email, address=actor.address, action=action, target=target, before=before, after=after,
        details=details or {}))


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None  # a prefix: "contest." finds every contest action
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200


async def entries(sessions: Sessions, wanted: AuditFilter) -> list[AuditEntry]:
    """The newest entries first, filtered."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(min(max(wanted.limit, 1), 1000))
    if wanted.actor:
        query = query.where(AuditEntry.actor == wanted.actor.strip().lower())
    if wanted.action:
        query = query.where(AuditEntry.action.startswith(wanted.action, autoescape=True))
    if wanted.target:
        query = query.where(AuditEntry.target == wanted.target)
    if wanted.since:
        query = query.where(AuditEntry.created_at >= wanted.since)
    if wanted.until:
        query = query.where(AuditEntry.created_at < wanted.until)
    async with sessions() as session:
        return list((await session.scalars(query)).all())
