"""Refunds a provider sends by its own API (MTN's Disbursement), going out by themselves.

An order in `refund_requested` is money owed back, whoever decided it (a held order rejected, an owner's refund,
the review queue): that state is the durable promise. A pass of the worker turns each such order of a provider
that refunds by API into a `refunds` row (`owe_refunds`), then sends what is owed and follows what was sent, as
every transfer is (gateway.core.money_out.transfers). What is a refund's own: it is settled on its order (the order
`refunded`, in one transaction with the refund), also when the provider paid another amount than owed: the money
went back, so the refund succeeded, the difference kept on it for a person (`refund.amount_differs`), and it is
never offered to be sent again. One refused for good leaves the order owed and before a person (the review
queue's `refund_failed`: send it again under a new reference, or pay it back by hand).

Nothing is sent twice: one open refund per order (a unique index), and one reference per refund.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.money_in.collections import load_collection
from gateway.core.money_out.transfers import Transfers, Turn
from gateway.core.providers import OutgoingRefund, Providers, RefundsSent, StatusResult
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, OutboxMessage, Refund, RefundState, VoteOrder


async def owe_refunds(sessions: Sessions, registry: Providers) -> int:
    """A `refunds` row for each order owed back by a provider that refunds by API and not owed one yet."""
    orders = VoteOrder.__table__.c
    async with sessions() as session:
        owing = await session.scalars(select(orders.provider).where(orders.status == OrderStatus.REFUND_REQUESTED)
                                      .distinct())
        providers = [name for name in owing if registry.refunder(name) is not None]
    if not providers:
        return 0
    # Each order locked, and its state read again once locked: a person marking it refunded by hand holds the
    # same lock (gateway.core.oversight.orders_admin), so one of the two sees the other's refund and stands back.
    owed = (select(func.gen_random_uuid(), orders.id, orders.provider, orders.amount, orders.currency,
                   func.coalesce(orders.status_reason, literal("refund requested")), literal("system"))
            .where(orders.status == OrderStatus.REFUND_REQUESTED, orders.provider.in_(providers),
                   ~select(Refund.id).where(Refund.order_id == orders.id).exists())
            .with_for_update(skip_locked=True))
    async with sessions.begin() as session:
        result = await session.execute(  # two passes at once: the second's rows meet the unique index, skipped
            insert(Refund).from_select(["id", "order_id", "provider", "amount", "currency", "reason",
                                        "requested_by"], owed)
            .on_conflict_do_nothing().returning(Refund.id))
        return len(result.all())


async def refunds_pass(sessions: Sessions, registry: Providers, now: datetime) -> list[Turn]:
    """Owe, send and follow what is due."""
    return await RefundTransfers(sessions, registry).run(now)


class RefundTransfers(Transfers[Refund, OutgoingRefund, RefundsSent]):
    model = Refund
    requested, sent = RefundState.REQUESTED, RefundState.SENT
    succeeded, failed = RefundState.SUCCEEDED, RefundState.FAILED
    noun = what = "refund"
    paid, asked_for = "refunded", "owed"

    def sender(self, row: Refund) -> RefundsSent | None:
        return self.registry.refunder(row.provider)

    async def outgoing(self, row: Refund) -> OutgoingRefund | None:
        async with self.sessions() as session:
            loaded = await load_collection(session, row.order_id)
        return None if loaded is None else OutgoingRefund(row.id, loaded[1], row.amount, row.currency)

    async def send(self, sender: RefundsSent, sent: OutgoingRefund) -> None:
        await sender.send_refund(sent)

    async def status(self, sender: RefundsSent, sent: OutgoingRefund) -> StatusResult:
        return await sender.refund_status(sent)

    def audit_target(self, row: Refund) -> str:
        return str(row.order_id)

    def audit_facts(self, row: Refund) -> dict[str, object]:
        return {"refund": str(row.id), "provider": row.provider, "amount": row.amount, "currency": row.currency}

    async def owe(self) -> int:
        return await owe_refunds(self.sessions, self.registry)

    async def lock(self, session: AsyncSession, row: Refund) -> None:
        """The order first, as everything that decides a refund locks it (gateway.core.oversight.orders_admin)."""
        await session.execute(select(VoteOrder.id).where(VoteOrder.id == row.order_id).with_for_update())

    async def on_succeeded(self, session: AsyncSession, row: Refund, status: StatusResult) -> None:
        """The order refunded, whatever amount the provider names: another one is kept on the refund for a person,
        never sent again (the person who was paid back would be paid twice)."""
        await session.execute(update(VoteOrder).where(VoteOrder.id == row.order_id,
                                                      VoteOrder.status == OrderStatus.REFUND_REQUESTED)
                              .values(status=OrderStatus.REFUNDED, status_reason=f"refunded by {row.provider}"))

    async def on_failed(self, session: AsyncSession, row: Refund, reason: str) -> None:
        """The order stays owed (`refund_requested`), and a person sees why on it."""
        await session.execute(update(VoteOrder).where(VoteOrder.id == row.order_id,  # what its page says now
                                                      VoteOrder.status == OrderStatus.REFUND_REQUESTED)
                              .values(status_reason=f"{row.provider} refused the refund: {reason}"[:1000]))
        session.add(OutboxMessage(topic="order.flagged", payload={"order_id": str(row.order_id)}))
