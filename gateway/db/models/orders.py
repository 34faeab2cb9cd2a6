"""Vote orders (and entry fees, paid the same way) and what their payments leave behind: provider events,
verifications, the outbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models.base import Base, enum_column


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    FLAGGED = "flagged"  # money moved but the vote was not counted: a person must look
    HELD = "held"  # paid, but a fraud rule holds its votes out of the tally until a person decides
    REFUND_REQUESTED = "refund_requested"
    # Paid after the lines closed and the contest's grace (gateway.core.contests.late_votes): never counted, given
    # back by itself once its money is the provider's word (gateway.core.money_out.late_refunds).
    LATE = "late"
    REFUNDED = "refunded"


class VoteOrder(Base):
    __tablename__ = "vote_orders"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    # Our payment reference, chosen before the first provider call and reused on every retry.
    payment_reference: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True, default=uuid.uuid4)
    # A channel's own replay key (a session, a message id, an Idempotency-Key): the same key, the same order.
    client_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"))
    # What the order buys: votes for a candidate, or (`entry_id`) an entry's fee, which counts no vote.
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id"))
    # The round it was placed in (its contest's current round then); None for a contest without rounds.
    round_id: Mapped[int | None] = mapped_column(ForeignKey("contest_rounds.id"))
    entry_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("entries.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    channel: Mapped[str] = mapped_column(String(32))  # its channel's name (`ChannelParts.name`)
    # Its channel messages the voter once the order is decided (it has `ChannelParts.receipts`); USSD and the web
    # show the outcome on their own screens. Every insert says which; the default serves an upgrade's old
    # processes (migration 0019).
    sends_receipt: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    provider: Mapped[str] = mapped_column(String(32))
    voter_msisdn: Mapped[str | None] = mapped_column(String(20))
    voter_ref: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[OrderStatus] = mapped_column(
        enum_column(OrderStatus, "order_status"), server_default=OrderStatus.PENDING.value
    )
    provider_txn_id: Mapped[str | None] = mapped_column(String(200))
    provider_data: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    status_reason: Mapped[str | None] = mapped_column(Text)
    payment_started_at: Mapped[datetime | None]
    # Set while one start talks to the provider (see gateway.core.money_in.starting): the single-flight
    # guard that used to be a row lock held, with its connection, across the provider call.
    start_lease_until: Mapped[datetime | None]
    # When a start first claimed the order. From then on the provider may have the prompt even if
    # no start was recorded (a time-out after MTN took it), so nothing may cancel the order unasked.
    start_attempted_at: Mapped[datetime | None]
    # Where the vote came from, for the fraud rules: the web client's address (phone channels have none).
    voter_address: Mapped[str | None] = mapped_column(String(64))
    # The voter's own language where the channel knows it (a chat user's): their receipt speaks it.
    language: Mapped[str | None] = mapped_column(String(8))
    # Set at placement when a fraud rule fired (gateway.core.fraud.holds): once paid, the order is held, not counted.
    hold_reason: Mapped[str | None] = mapped_column(Text)
    # The fraud rules' figures around the order when it was placed, itself included (gateway.core.fraud.fraud_counters),
    # and whether its address is a shared one: what a contest's thresholds were met by, so that others can be tried
    # on the same orders (a preview).
    fraud_figures: Mapped[dict[str, Any] | None]
    # The points its signals scored at placement (gateway.core.fraud.rules); confirmation may add the provider's own.
    fraud_score: Mapped[int | None]
    last_checked_at: Mapped[datetime | None]
    check_count: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    decided_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("num_nonnulls(candidate_id, entry_id) = 1", name="buys_one_thing"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("voter_msisdn IS NULL OR voter_msisdn ~ '^\\+[1-9][0-9]{6,14}$'", name="msisdn_e164"),
        Index("ix_vote_orders_pending", "expires_at", postgresql_where=text("status = 'pending'")),
        Index("ix_vote_orders_paid", "candidate_id", postgresql_where=text("status = 'paid'")),
        Index("ix_vote_orders_voter", "voter_msisdn", "created_at"),
        Index("ix_vote_orders_address", "voter_address", "created_at",
              postgresql_where=text("voter_address IS NOT NULL")),
        Index("ix_vote_orders_voter_ref", "voter_ref", "created_at", postgresql_where=text("voter_ref IS NOT NULL")),
        # A day of orders (the money check): orders are made in time order, so a BRIN index finds a day's pages at
        # next to no cost per vote (a b-tree would add to every insert).
        Index("ix_vote_orders_created_brin", "created_at", postgresql_using="brin"),
        # One payment of an entry's fee waits at a time: two at once could both be paid.
        Index("uq_vote_orders_entry_pending", "entry_id", unique=True,
              postgresql_where=text("entry_id IS NOT NULL AND status = 'pending'")),
    )


class ProviderEvent(Base):
    """Every raw inbound callback, kept whether or not it changed anything."""

    __tablename__ = "provider_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str | None] = mapped_column(String(200))  # the provider's own id, if it has one
    order_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(String(100))
    headers: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    body: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        Index("ix_provider_events_order", "order_id"),
        Index(
            "uq_provider_events_event_id", "provider", "event_id", unique=True,
            postgresql_where=text("event_id IS NOT NULL"),
        ),
    )


# Callback verification: orders counted on a callback's word, each re-checked later with a status call.
class PaymentVerification(Base):
    """An order counted from an authenticated callback (MTN's per-order URL secret, Orange's notif_token),
    awaiting the provider's own status to agree. Written in the statement that counts the order, so a
    crash or a restart loses none; `verified_at` set: done (agreed, or the votes were taken back)."""

    __tablename__ = "payment_verifications"

    order_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("vote_orders.id", ondelete="CASCADE"), primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(server_default=func.now())
    due_at: Mapped[datetime] = mapped_column(server_default=func.now())  # pushed on while one process checks it
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    verified_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(100))  # agreed | disagreed:<why> | not_paid
    # Its rank, the highest verified first (gateway.core.money_in.verification.priority); NULL: not ranked yet,
    # claimed after the ranked ones. Set by the ranking pass, never by the statement that counts the order.
    priority: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_payment_verifications_due", "due_at", postgresql_where=text("verified_at IS NULL")),
        # The claim's order (ranks, then oldest first), and the ranking pass's look for entries not ranked yet.
        Index("ix_payment_verifications_priority", text("priority DESC NULLS LAST"), "queued_at",
              postgresql_where=text("verified_at IS NULL")),
    )


class OutboxMessage(Base):
    """Work to do after a transaction commits, written in that same transaction."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    enqueued_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (
        Index("ix_outbox_unenqueued", "id", postgresql_where=text("enqueued_at IS NULL")),
        # the rows handed to RQ and not yet delivered, looked at for jobs Redis lost (gateway.jobs.outbox.relay_lost)
        Index("ix_outbox_undelivered", "enqueued_at", postgresql_where=text("delivered_at IS NULL")),
    )
