"""Approved payouts to a wallet, going out by the wallet's provider's own API where it declares PAYOUTS (MTN's
Disbursement `transfer`), sent and followed as every transfer is (gateway.core.money_out.transfers): the payout's
id is the reference the provider gets, kept before any call.

What is a payout's own: one refused for good, or failed, gives its amount back to the balance (only `failed` does:
gateway.core.money_out.settlements); one paid for another amount than asked is a success all the same, as every
transfer's is (the difference kept on it for a person): money that moved never goes back to the balance, where it
could be paid out twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from gateway.core.money_out.transfers import Transfers, Turn
from gateway.core.providers import OutgoingPayout, PayoutsSent, Providers, StatusResult
from gateway.db.engine import Sessions
from gateway.db.models import Contest, Payout, PayoutState


async def payouts_pass(sessions: Sessions, registry: Providers, now: datetime) -> list[Turn]:
    """Send and follow what is due."""
    return await PayoutTransfers(sessions, registry).run(now)


async def outgoing(sessions: Sessions, payout: Payout) -> OutgoingPayout:
    async with sessions() as session:
        contest = await session.scalar(select(Contest.name).where(Contest.id == payout.contest_id))
    assert payout.msisdn is not None  # a wallet's payout (the table's check)
    return OutgoingPayout(payout.id, payout.msisdn, payout.amount, payout.currency, f"Ballot payout: {contest}")


class PayoutTransfers(Transfers[Payout, OutgoingPayout, PayoutsSent]):
    model = Payout
    requested, sent = PayoutState.REQUESTED, PayoutState.SENT
    succeeded, failed = PayoutState.SUCCEEDED, PayoutState.FAILED
    noun, what = "payout", "transfer"

    def sender(self, row: Payout) -> PayoutsSent | None:
        return self.registry.payout_sender(row.kind)

    async def outgoing(self, row: Payout) -> OutgoingPayout:
        return await outgoing(self.sessions, row)

    async def send(self, sender: PayoutsSent, sent: OutgoingPayout) -> None:
        await sender.send_payout(sent)

    async def status(self, sender: PayoutsSent, sent: OutgoingPayout) -> StatusResult:
        return await sender.payout_status(sent)

    def audit_target(self, row: Payout) -> str:
        return f"payout:{row.id}"

    def audit_facts(self, row: Payout) -> dict[str, object]:
        return {"contest": row.contest_id, "amount": row.amount, "currency": row.currency}
