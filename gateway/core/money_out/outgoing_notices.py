"""A provider's callback about money going out (MTN Disbursement's, on the URL we gave with a refund or a transfer):
never trusted for what it says, whatever it says; it only brings the next look at that refund or payout forward
(the worker's passes read its status and settle it, gateway.core.money_out.transfers). A callback about a
reference we never sent changes nothing."""

from __future__ import annotations

import uuid

from gateway.core.money_out.payouts_sent import PayoutTransfers
from gateway.core.money_out.refunds_sent import RefundTransfers
from gateway.db.engine import Sessions

KINDS = (RefundTransfers, PayoutTransfers)


async def notice(sessions: Sessions, reference: uuid.UUID) -> bool:
    """Whether `reference` is a refund or payout of ours; an open one is looked at soon."""
    async with sessions.begin() as session:
        for kind in KINDS:
            if await kind.bring_forward(session, reference):
                return True
        for kind in KINDS:
            if await kind.known(session, reference):
                return True  # a late word on one decided already: ours, nothing to do
    return False
