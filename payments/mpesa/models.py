"""M-Pesa's own table (migrations in payments/mpesa/migrations, the Alembic branch `mpesa`): each contest's paybill,
where its voters pay from the M-Pesa menu with a candidate's code as the account number, and what becomes of money
that buys no whole vote (payments.mpesa.paybills)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models import Base


class MpesaContest(Base):
    __tablename__ = "mpesa_contests"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True)
    paybill: Mapped[str | None] = mapped_column(String(7), index=True)  # Daraja's BusinessShortCode
    # "hold": for a person (the order held, as a fraud rule holds one); "refund": reversed by Daraja's API.
    remainder: Mapped[str] = mapped_column(String(8), server_default="hold")

    __table_args__ = (CheckConstraint("remainder IN ('hold', 'refund')", name="remainder_known"),)
