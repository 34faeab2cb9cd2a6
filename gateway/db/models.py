"""Database tables. PostgreSQL is the source of truth for contests, orders and tallies."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, CIDR, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    # Every model here maps one Table (SQLAlchemy types it as any FromClause): Core inserts and updates take it.
    __table__: ClassVar[Table]
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSONB, datetime: DateTime(timezone=True)}


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda members: [m.value for m in members])


class ContestStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"


class CandidateStatus(StrEnum):
    ACTIVE = "active"
    ELIMINATED = "eliminated"
    HIDDEN = "hidden"


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    FLAGGED = "flagged"  # money moved but the vote was not counted: a person must look
    HELD = "held"  # paid, but a fraud rule holds its votes out of the tally until a person decides
    REFUND_REQUESTED = "refund_requested"
    REFUNDED = "refunded"


class Channel(StrEnum):
    """The built-in channels' names; an order's channel is any registered channel's name (gateway/channel_list.py)."""

    USSD = "ussd"
    SMS = "sms"
    TELEGRAM = "telegram"
    WEB = "web"


class Contest(Base):
    __tablename__ = "contests"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[ContestStatus] = mapped_column(_enum(ContestStatus, "contest_status"))
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    price_per_vote: Mapped[int] = mapped_column(BigInteger)  # minor units of `currency`
    currency: Mapped[str] = mapped_column(String(3))
    max_votes_per_order: Mapped[int] = mapped_column(Integer)
    ussd_service_codes: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")
    sms_short_code: Mapped[str | None] = mapped_column(String(16))
    sms_keyword: Mapped[str | None] = mapped_column(String(32))
    providers: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")
    default_language: Mapped[str] = mapped_column(String(2), server_default="fr")
    # Abuse limits per payer number (all channels); 0 means no limit.
    max_orders_per_minute: Mapped[int] = mapped_column(Integer, server_default="5")
    max_orders_per_day: Mapped[int] = mapped_column(Integer, server_default="200")
    # Public board: counts can be hidden (ranks only), and the board frozen from a moment on.
    show_counts: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # Thresholds of the fraud rules (gateway.core.fraud.FraudRules; a missing key takes its default, 0 turns
    # a rule off). None: every default.
    fraud_rules: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    board_frozen_at: Mapped[datetime | None]
    # Sealed until close: no count, no rank anywhere public until the contest is closed (gateway.core.ranking).
    board_sealed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Telegram: the price of a vote in Stars (None: not sold in the bot), and whether the
    # organiser lets the bot offer mobile money too (Telegram's terms want Stars for digital goods).
    stars_per_vote: Mapped[int | None] = mapped_column(Integer)
    telegram_mobile_money: Mapped[bool] = mapped_column(Boolean, server_default="false")

    candidates: Mapped[list[Candidate]] = relationship(
        back_populates="contest", order_by="Candidate.code", lazy="raise"
    )

    __table_args__ = (
        CheckConstraint("price_per_vote > 0", name="price_positive"),
        CheckConstraint("max_votes_per_order >= 1", name="max_votes_positive"),
        CheckConstraint("closes_at > opens_at", name="closes_after_opens"),
    )


class Candidate(Base):
    __tablename__ = "candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[CandidateStatus] = mapped_column(
        _enum(CandidateStatus, "candidate_status"), server_default=CandidateStatus.ACTIVE.value
    )
    photo_url: Mapped[str | None] = mapped_column(Text)
    bio: Mapped[str | None] = mapped_column(Text)
    # The organiser's display order in the public lists (ties: code order).
    position: Mapped[int] = mapped_column(Integer, server_default="0")

    contest: Mapped[Contest] = relationship(back_populates="candidates", lazy="raise")

    __table_args__ = (
        UniqueConstraint("contest_id", "code", name="uq_candidates_contest_code"),
        CheckConstraint("code ~ '^[0-9]{1,8}$'", name="code_numeric"),
    )


class VoteOrder(Base):
    __tablename__ = "vote_orders"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    # Our payment reference, chosen before the first provider call and reused on every retry.
    payment_reference: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True, default=uuid.uuid4)
    # A channel's own replay key (USSD session, SMS id, Idempotency-Key): the same key, the same order.
    client_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    channel: Mapped[str] = mapped_column(String(32))  # a channel's name (`Channel` names the built-in ones)
    provider: Mapped[str] = mapped_column(String(32))
    voter_msisdn: Mapped[str | None] = mapped_column(String(20))
    voter_ref: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[OrderStatus] = mapped_column(
        _enum(OrderStatus, "order_status"), server_default=OrderStatus.PENDING.value
    )
    provider_txn_id: Mapped[str | None] = mapped_column(String(200))
    provider_data: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    status_reason: Mapped[str | None] = mapped_column(Text)
    payment_started_at: Mapped[datetime | None]
    # Set while one start talks to the provider (see gateway.core.payments.starts): the single-flight
    # guard that used to be a row lock held, with its connection, across the provider call.
    start_lease_until: Mapped[datetime | None]
    # When a start first claimed the order. From then on the provider may have the prompt even if
    # no start was recorded (a time-out after MTN took it), so nothing may cancel the order unasked.
    start_attempted_at: Mapped[datetime | None]
    # Where the vote came from, for the fraud rules: the web client's address (USSD and SMS have none).
    voter_address: Mapped[str | None] = mapped_column(String(64))
    # The voter's own language where the channel knows it (a Telegram user's): their receipt speaks it.
    language: Mapped[str | None] = mapped_column(String(8))
    # Set at placement when a fraud rule fired (gateway.core.holds): once paid, the order is held, not counted.
    hold_reason: Mapped[str | None] = mapped_column(Text)
    last_checked_at: Mapped[datetime | None]
    check_count: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    decided_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("voter_msisdn IS NULL OR voter_msisdn ~ '^\\+[1-9][0-9]{6,14}$'", name="msisdn_e164"),
        Index("ix_vote_orders_pending", "expires_at", postgresql_where=text("status = 'pending'")),
        Index("ix_vote_orders_paid", "candidate_id", postgresql_where=text("status = 'paid'")),
        Index("ix_vote_orders_voter", "voter_msisdn", "created_at"),
        Index("ix_vote_orders_address", "voter_address", "created_at",
              postgresql_where=text("voter_address IS NOT NULL")),
        Index("ix_vote_orders_voter_ref", "voter_ref", "created_at", postgresql_where=text("voter_ref IS NOT NULL")),
    )


class BlockedMsisdn(Base):
    """Payer numbers refused on every channel (fraud, chargebacks, an organiser's decision)."""

    __tablename__ = "blocked_msisdns"

    msisdn: Mapped[str] = mapped_column(String(20), primary_key=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class BlockedAddress(Base):
    """Client addresses (one, or a network) whose votes are refused before any payment prompt."""

    __tablename__ = "blocked_addresses"

    network: Mapped[IPv4Network | IPv6Network] = mapped_column(CIDR, primary_key=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class VoterPreference(Base):
    """What we remember of a phone number between sessions (the menu language)."""

    __tablename__ = "voter_preferences"

    msisdn: Mapped[str] = mapped_column(String(20), primary_key=True)
    language: Mapped[str] = mapped_column(String(2))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class UssdSessionEvent(Base):
    """Africa's Talking's end-of-session notifications, all kept."""

    __tablename__ = "ussd_session_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(100), index=True)
    msisdn: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())


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


class Tally(Base):
    """Votes per candidate; always equal to the sum of quantities of its paid orders."""

    __tablename__ = "tallies"

    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), index=True)
    votes: Mapped[int] = mapped_column(BigInteger, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (CheckConstraint("votes >= 0", name="votes_not_negative"),)


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
    )


class AdminUser(Base):
    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32), server_default="organiser")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Admin area: TOTP confirmed at first sign-in, and a version every access token carries
    # (bumped on sign-out everywhere, password change, disabling). Failed sign-ins are counted in Redis.
    totp_confirmed_at: Mapped[datetime | None]
    token_version: Mapped[int] = mapped_column(Integer, server_default="0")
    # The last TOTP time step (30 s since the epoch) a sign-in used: its code and every older one are refused.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)


class AuditEntry(Base):
    """Append-only: PostgreSQL refuses UPDATE and DELETE of a row (migration 0008) and TRUNCATE (0016)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    actor: Mapped[str] = mapped_column(String(254))  # an admin's email, or "system"
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Admin area: where the action came from, and the thing before and after it.
    address: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (Index("ix_audit_log_target", "target", "created_at"),)


# Admin area: refresh tokens (stored hashed, rotated, revocable by family) and contest organisers.
class AdminRefreshToken(Base):
    """One refresh token, by its SHA-256; a rotation marks it used and issues the next of its family."""

    __tablename__ = "admin_refresh_tokens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"), index=True)
    family: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ContestOrganiser(Base):
    """Which organiser runs which contest (an organiser sees and changes only their own)."""

    __tablename__ = "contest_organisers"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"), primary_key=True)


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

    __table_args__ = (
        Index("ix_payment_verifications_due", "due_at", postgresql_where=text("verified_at IS NULL")),
    )


# SMS voting over Africa's Talking (channels/sms)
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
    """Every message we send: one per order and kind, one per inbound and kind (a job run twice sends once)."""

    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    inbound_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("sms_inbound.id", ondelete="SET NULL"))
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
    )


class SmsOptOut(Base):
    """Numbers that sent STOP: they get receipts of their own orders, nothing else."""

    __tablename__ = "sms_opt_outs"

    msisdn: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


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


# The vote ledger: every counting event appended to a hash chain per contest (gateway.core.ledger).
class LedgerHead(Base):
    """A contest's chain head: its last hash and entry count. Appending upserts this row (the lock that
    serialises a contest's appends), keeping the previous hash and the event's bytes for the entry row."""

    __tablename__ = "ledger_heads"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True)
    entries: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary)
    last_event: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class LedgerEntry(Base):
    """One counting event: `hash` = SHA-256(`prev_hash` ‖ the event's canonical bytes)."""

    __tablename__ = "ledger_entries"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    candidate_id: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)  # signed: a reversal takes votes off
    amount: Mapped[int] = mapped_column(BigInteger)  # signed as the quantity, minor units of `currency`
    currency: Mapped[str] = mapped_column(String(3))
    provider_txn_id: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[datetime]
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_ledger_entries_order", "order_id"),)


class LedgerCheckpoint(Base):
    """The chain's head and entry count at a moment (hourly, at close), shown on the contest's public page."""

    __tablename__ = "ledger_checkpoints"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    entries: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(String(16))  # hourly | close
    taken_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (Index("ix_ledger_checkpoints_contest", "contest_id", "taken_at"),)


class ResultsSheet(Base):
    """A signed results sheet: the CSV's exact bytes and its detached Ed25519 signature."""

    __tablename__ = "results_sheets"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(16))  # close | on_demand
    sheet: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # raw 32 bytes
    entries: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary)
    signed_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (Index("ix_results_sheets_contest", "contest_id", "created_at"),)
