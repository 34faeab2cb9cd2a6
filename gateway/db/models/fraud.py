"""What the fraud rules count as orders arrive, and the addresses the service learned many people share.

The rules' figures (gateway.core.fraud.fraud_counters) are counters kept per contest, per subject (a payer number, an
address, a chat user) and per window, updated by each order's placement and read back by the same statement: an
order costs the same at the millionth vote as at the first, however many orders its address has sent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models.base import Base


class FraudCount(Base):
    """One figure of one subject in one contest, as two fixed buckets of its window: the current one and the one
    before (what the figure over a sliding window is estimated from, as rate limiters do)."""

    __tablename__ = "fraud_counts"

    contest_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)  # the counter (gateway.core.fraud.fraud_counters)
    subject: Mapped[str] = mapped_column(Text, primary_key=True)  # whose figure: a number, an address, a chat user
    bucket: Mapped[int] = mapped_column(BigInteger)  # the current bucket: seconds since the epoch // the window
    current: Mapped[int] = mapped_column(BigInteger)
    previous: Mapped[int] = mapped_column(BigInteger)


class FraudMember(Base):
    """One member of a distinct count (a payer number behind an address, a candidate voted for from it): the bucket
    it was last seen in, so that each member is counted once, in its latest bucket."""

    __tablename__ = "fraud_members"

    contest_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject: Mapped[str] = mapped_column(Text, primary_key=True)
    member: Mapped[str] = mapped_column(Text, primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger)
    previous_bucket: Mapped[int | None] = mapped_column(BigInteger)  # the bucket before the latest move


class SharedAddress(Base):
    """An address the service learned many people share: many distinct payer numbers paid from it and none of its
    orders was ever refused, reversed or charged back (refreshed by the worker, gateway.core.fraud.shared_learning)."""

    __tablename__ = "shared_addresses"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    numbers: Mapped[int] = mapped_column(Integer)  # distinct payer numbers that paid from it, when learned
    paid_orders: Mapped[int] = mapped_column(Integer)
    learned_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
