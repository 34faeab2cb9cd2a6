"""What the fraud rules count as orders arrive, and the addresses the service learned many people share.

The rules' figures (gateway.core.fraud.fraud_counters) are counters kept per contest and per subject (a payer number,
an address, a chat user), each over its window, updated by each order's placement and read back by the same statement:
an order costs the same at the millionth vote as at the first, however many orders its address has sent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models.base import Base

# Every counter of gateway.core.fraud.fraud_counters, by the row it is kept in: each subject's row holds the two
# buckets of each of its counters as columns of its own (`<counter>_bucket`, `<counter>_current`, `<counter>_previous`).
# A placement writes its payer's, address's and voter's rows; what a payer's (or, with no number, a voter's) payments
# did later (paid again quickly, refused by a person, charged back) is kept in a row of their `history`, written by
# the count and the review and only read by a placement, so that neither waits on the other's row lock.
COUNTERS_BY_KIND: dict[str, tuple[str, ...]] = {
    "payer": ("payer_orders_10_minutes", "payer_orders_minute", "payer_orders_day", "payer_votes_day"),
    "address": ("address_orders_10_minutes", "address_candidates_hour", "address_numbers_day"),
    "voter": ("voter_orders_10_minutes", "voter_numbers"),
    "history": ("payer_refused", "voter_refused", "payer_paid_quick"),
}
COUNTER_NAMES = tuple(dict.fromkeys(name for names in COUNTERS_BY_KIND.values() for name in names))
BUCKET_PARTS = ("bucket", "current", "previous")


class FraudSubject(Base):
    """One subject's figures in one contest (a payer number, an address, a chat user or browser): for each of its
    counters, two fixed buckets of the counter's window, the current one and the one before (what the figure over a
    sliding window is estimated from, as rate limiters do). One row a subject, not one a counter: an order from a
    new payer and address writes two rows here, not seven."""

    __tablename__ = "fraud_subjects"

    contest_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # payer, address, voter, history (COUNTERS_BY_KIND)
    subject: Mapped[str] = mapped_column(Text, primary_key=True)  # whose figures: a number, an address, a voter


for _name in COUNTER_NAMES:  # NULL until the counter first counts: a figure of 0
    for _part in BUCKET_PARTS:
        setattr(FraudSubject, f"{_name}_{_part}", mapped_column(f"{_name}_{_part}", BigInteger, nullable=True))


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
