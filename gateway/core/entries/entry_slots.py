"""Which entries take one of a call's `max_entries` places.

In a free call, every entry standing (not rejected) does: it is complete once sent. In a call with a fee, an
entry is not complete until its fee is paid: an unpaid one keeps its place for UNPAID_HOLD after it was sent (the
time to pay it, its own page in hand), and after that only while a payment of its fee waits for the provider. An
entry whose fee is paid, or that was approved, keeps its place. So entries sent and never paid no longer fill a
call for ever; and a candidate whose hold ran out pays only if a place is free (`check_place`).

Whoever counts places locks the call's row first (`lock_call`): two candidates taking the last place at once
are counted one after the other."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.errors import Conflict
from gateway.db.models import Entry, EntryCall, EntryStatus, OrderStatus, VoteOrder

UNPAID_HOLD = timedelta(hours=1)


class EntriesFull(Conflict):
    code = "entries_full"

    def __init__(self) -> None:
        super().__init__("This contest has all the entries it takes.")


def holds_a_place(call: EntryCall, now: datetime) -> ColumnElement[bool]:
    """The entries of this call that take a place at `now`."""
    if call.fee_amount is None:
        return true()
    fee_waiting = exists().where(VoteOrder.entry_id == Entry.id, VoteOrder.status == OrderStatus.PENDING)
    return or_(Entry.status == EntryStatus.APPROVED, Entry.fee_paid_at.is_not(None),
               Entry.rules_accepted_at > now - UNPAID_HOLD, fee_waiting)


async def places_taken(session: AsyncSession, call: EntryCall, now: datetime,
                       besides: uuid.UUID | None = None) -> int:
    """The entries standing in the call that take a place (`besides`: one left out of the count)."""
    taken = await session.scalar(select(func.count()).select_from(Entry).where(
        Entry.contest_id == call.contest_id, Entry.status != EntryStatus.REJECTED, holds_a_place(call, now),
        Entry.id != besides if besides is not None else true()))
    return taken or 0


async def is_full(session: AsyncSession, call: EntryCall, now: datetime) -> bool:
    return call.max_entries is not None and await places_taken(session, call, now) >= call.max_entries


async def lock_call(session: AsyncSession, contest_id: int) -> EntryCall | None:
    """The call, its row locked until the transaction ends (the places are counted one transaction at a time)."""
    return await session.scalar(select(EntryCall).where(EntryCall.contest_id == contest_id).with_for_update()
                                .execution_options(populate_existing=True))


async def check_place(session: AsyncSession, call: EntryCall, entry: Entry, now: datetime) -> None:
    """Before an entry's fee is paid: the entry holds its place, or one is free (EntriesFull: none is). The
    caller holds the call's lock (`lock_call`)."""
    if call.max_entries is None:
        return
    holding = await session.scalar(select(func.count()).select_from(Entry).where(
        Entry.id == entry.id, Entry.status != EntryStatus.REJECTED, holds_a_place(call, now)))
    if holding:
        return
    if await places_taken(session, call, now, besides=entry.id) >= call.max_entries:
        raise EntriesFull()

