"""SMS's own tables (migrations in channels/sms/migrations, the Alembic branch `sms`): what Africa's Talking
delivered, what we sent, who opted out, and each contest's short code and keyword."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models import Base


class SmsInbound(Base):
    """Every message Africa's Talking delivered to a short code, once per AT `id` (AT retries for ~10 min)."""

    __tablename__ = "sms_inbound"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at_id: Mapped[str] = mapped_column(String(100), unique=True)
    msisdn: Mapped[str] = mapped_column(String(20))
    short_code: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    link_id: Mapped[str | None] = mapped_column(String(200))
    network_code: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(32))  # vote, help, top, stop, unrecognised, …
    order_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
    handled_at: Mapped[datetime | None]


class SmsMessage(Base):
    """Every message we send: one per order, inbound or notice and kind (a job run twice sends once)."""

    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    inbound_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("sms_inbound.id", ondelete="SET NULL"))
    notice_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))  # a message to someone not voting
    kind: Mapped[str] = mapped_column(String(32))
    msisdn: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    at_message_id: Mapped[str | None] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(32), server_default="queued")
    failure_reason: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("order_id", "kind"),
        UniqueConstraint("inbound_id", "kind"),
        UniqueConstraint("notice_id", "kind"),
    )


class SmsOptOut(Base):
    """Numbers that sent STOP: they get receipts of their own orders, nothing else."""

    __tablename__ = "sms_opt_outs"

    msisdn: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class SmsContest(Base):
    """A contest's short code and keyword: it takes SMS votes while it has both (channels/sms/contest_settings)."""

    __tablename__ = "sms_contests"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True)
    short_code: Mapped[str | None] = mapped_column(String(16), index=True)
    keyword: Mapped[str | None] = mapped_column(String(32))
