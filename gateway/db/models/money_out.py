"""Money going out: refunds the provider sends by its own API (MTN's Disbursement), each a row whose id is the
reference the provider gets, written before the first call so a crash between the call and the record resends
the same reference (the provider refunds it once)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models.base import Base, enum_column


class RefundState(StrEnum):
    REQUESTED = "requested"  # owed; to be sent (again, after a failed attempt, with the same reference)
    SENT = "sent"  # the provider took it; its status says when it is done
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the provider refused it for good: a person decides


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)  # the provider's X-Reference-Id
    order_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("vote_orders.id"))
    provider: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[RefundState] = mapped_column(enum_column(RefundState, "refund_state"),
                                               server_default=RefundState.REQUESTED.value)
    reason: Mapped[str] = mapped_column(Text)  # why it is owed (a held order rejected, an owner's refund)
    requested_by: Mapped[str] = mapped_column(String(320))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    due_at: Mapped[datetime] = mapped_column(server_default=func.now())  # its next send, or its next status look
    provider_txn_id: Mapped[str | None] = mapped_column(String(200))
    provider_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    decided_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # One refund of an order at a time: a second is owed only once the first failed for good.
        Index("uq_refunds_order_open", "order_id", unique=True, postgresql_where=text("state <> 'failed'")),
        Index("ix_refunds_due", "due_at", postgresql_where=text("state IN ('requested', 'sent')")),
    )
