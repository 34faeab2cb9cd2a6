"""USSD's own tables (migrations in channels/ussd/migrations, the Alembic branch `ussd`): each contest's USSD
settings (the service codes that dial it among them), the SMS that follow a USSD vote once its order is decided
(one per order and kind), and AT's end-of-session notifications (made by the core's history before channels had
branches, adopted by ussd_0002)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models import Base


class UssdContest(Base):
    """A contest's USSD settings (channels/ussd/contest_settings); a contest without a row has the defaults."""

    __tablename__ = "ussd_contests"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True)
    # The organiser turned off the SMS that confirms a USSD vote (its receipt, or why it failed).
    no_receipt_sms: Mapped[bool] = mapped_column(server_default=text("false"))
    # The operator's codes that dial it (*384*123#); two live contests never share one.
    service_codes: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")


class UssdReceiptText(Base):
    """Every SMS a USSD vote's decision sent: one per order and kind, so a relay or job that runs twice texts once."""

    __tablename__ = "ussd_receipt_texts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(String(32))  # paid, failed or expired
    msisdn: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    at_message_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(32), server_default="queued")  # queued, Sent, Rejected, unsent
    failure_reason: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __table_args__ = (UniqueConstraint("order_id", "kind"),)


class UssdSessionEvent(Base):
    """Africa's Talking's end-of-session notifications, all kept."""

    __tablename__ = "ussd_session_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(100), index=True)
    msisdn: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
