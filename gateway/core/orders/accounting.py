"""What a change of a paid order moves, whatever the order bought: a vote order's votes on the ledger and the
tally (gateway.core.results.ledger), an entry fee's mark on its entry (gateway.core.entries.entry_fees)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.core.contests import rounds
from gateway.core.entries import entry_fees
from gateway.core.results import ledger
from gateway.db.models import VoteOrder


async def record_change(session: AsyncSession | AsyncConnection, kind: ledger.EntryKind, order: VoteOrder, *,
                        sign: int) -> None:
    """`sign` +1: what the order bought now counts; -1: it no longer does; 0: a decision that moves nothing
    (kept on the ledger for votes; an entry fee has no record to keep beyond the order's own audit)."""
    if order.entry_id is not None:
        if sign:
            await entry_fees.set_fee_paid(session, order, paid=sign > 0)
        return
    await ledger.append_event(session, kind, order, sign=sign)
    if order.candidate_id is not None:  # the open round's board keeps to its own votes
        await rounds.keep_open_round(session, order.contest_id, order.round_id, order.candidate_id,
                                     sign * order.quantity)
