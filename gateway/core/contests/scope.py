"""Which contests an admin may act on: an owner every contest, an organiser those they created or were given.

Every wing's operation for the admin area (a contest's settings, its entries, settlement, payouts, refunds) finds
its contest here, so one rule decides what an organiser sees, and another organiser's contest is as absent as a
missing one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.audit import Actor
from gateway.core.errors import NotFound
from gateway.db.models import Contest, ContestOrganiser


def visible_to(actor: Actor) -> Any:
    """The contests an actor may see: all, an organiser's own, or none for a juror (a jury seat grants scoring
    alone: gateway.core.contests.jury)."""
    if actor.role == "jury":
        return false()
    if actor.role != "organiser":
        return true()
    return exists().where(ContestOrganiser.contest_id == Contest.id, ContestOrganiser.admin_id == actor.admin_id)


async def contest_in_scope(session: AsyncSession, actor: Actor, contest_id: int, *, lock: bool = False) -> Contest:
    """The contest, if the actor may act on it; `lock` holds it for the transaction's change."""
    query = select(Contest).where(Contest.id == contest_id, visible_to(actor))
    # FOR NO KEY UPDATE: serialises admin changes without blocking the key-share locks every count's foreign keys
    # take on the contest (a plain FOR UPDATE deadlocked a count holding its tally against a resume).
    contest = await session.scalar(query.with_for_update(key_share=True) if lock else query)
    if contest is None:  # another organiser's contest is as absent as a missing one
        raise NotFound(f"No contest {contest_id}.", code="contest_not_found")
    return contest
