"""Telegram's own tables (migrations in channels/telegram/migrations, the Alembic branch `telegram`): the
updates the webhook kept, the receipts sent, and each contest's bot settings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models import Base


# Telegram: every update the webhook accepted, kept before the 200 and deduplicated on its id.
class TelegramUpdate(Base):
    __tablename__ = "telegram_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
    claimed_at: Mapped[datetime] = mapped_column(server_default=func.now())  # last time a handler took it
    handled_at: Mapped[datetime | None]  # done with: handled, or failed for good (then `failure` says why)
    failure: Mapped[str | None] = mapped_column(String(200))  # why aiogram could not read it

    __table_args__ = (
        Index("ix_telegram_updates_unhandled", "claimed_at", postgresql_where=text("handled_at IS NULL")),
    )


class TelegramReceipt(Base):
    """A receipt sent to a Telegram chat: one per order and kind, whoever runs the job twice."""

    __tablename__ = "telegram_receipts"

    order_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("vote_orders.id", ondelete="CASCADE"),
                                                primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(server_default=func.now())


class TelegramContest(Base):
    """A contest's bot settings (channels/telegram/contest_settings); no row: the defaults."""

    __tablename__ = "telegram_contests"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True)
    # Whether the organiser lets the bot offer mobile money too (Telegram's terms want Stars for digital goods).
    mobile_money: Mapped[bool] = mapped_column(Boolean, server_default="false")
