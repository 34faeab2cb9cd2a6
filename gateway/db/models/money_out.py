"""Money going out: refunds the provider sends by its own API (MTN's Disbursement) and payouts to organisers, each a
row whose id is the reference the provider gets, written before the first call so a crash between the call and
the record resends the same reference (the provider pays it once)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
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


class ProviderFeeRate(Base):
    """What a provider keeps of each payment, as the owner keeps the rate: a share and a fixed part, and where its
    tariff goes by amount, its bands (`ProviderFeeBand`)."""

    __tablename__ = "provider_fee_rates"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    percent_bp: Mapped[int] = mapped_column(Integer, server_default="0")  # basis points of each payment
    fixed_minor: Mapped[int] = mapped_column(BigInteger, server_default="0")  # per payment, minor units
    updated_by: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __table_args__ = (
        CheckConstraint("percent_bp BETWEEN 0 AND 10000", name="percent_within_whole"),
        CheckConstraint("fixed_minor >= 0", name="fixed_not_negative"),
    )


class ProviderFeeBand(Base):
    """One band of a provider's tariff, where its fee goes by the payment's amount (M-Pesa's business tariffs): a
    payment of at most `up_to_minor` (and more than the band below) costs `fixed_minor` plus `percent_bp` of it, at
    most `cap_minor`. A payment above every band costs the rate's own share and fixed part."""

    __tablename__ = "provider_fee_bands"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    up_to_minor: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    fixed_minor: Mapped[int] = mapped_column(BigInteger, server_default="0")
    percent_bp: Mapped[int] = mapped_column(Integer, server_default="0")
    cap_minor: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        ForeignKeyConstraint(["provider", "currency"], ["provider_fee_rates.provider", "provider_fee_rates.currency"],
                             ondelete="CASCADE"),
        CheckConstraint("up_to_minor > 0", name="up_to_positive"),
        CheckConstraint("fixed_minor >= 0", name="fixed_not_negative"),
        CheckConstraint("percent_bp BETWEEN 0 AND 10000", name="percent_within_whole"),
        CheckConstraint("cap_minor IS NULL OR cap_minor >= 0", name="cap_not_negative"),
    )


class SettlementStatement(Base):
    """A contest's settlement statement as signed: the CSV's exact bytes, its Ed25519 signature (the results
    sheets' key) and the ledger head it was computed at."""

    __tablename__ = "settlement_statements"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    statement: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    entries: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary)
    signed_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (Index("ix_settlement_statements_contest", "contest_id", "created_at"),)


# A payout account's kind: a bank account (paid by hand, with the transfer's proof), or else a wallet, kept as the name
# of its provider (one that charges a phone's wallet): paid by that provider's API where it declares payouts, by hand
# otherwise (gateway.core.money_out.payouts).
BANK_ACCOUNT = "bank"


class PayoutAccount(Base):
    """Where a contest's payouts go. A wallet number is proven by a code texted to it before it is kept; changing
    the account is audited, and a payout keeps the account it was requested to."""

    __tablename__ = "payout_accounts"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # BANK_ACCOUNT, or the wallet's provider
    msisdn: Mapped[str | None] = mapped_column(String(16))  # E.164, a wallet's
    holder: Mapped[str] = mapped_column(String(200))
    bank_details: Mapped[str | None] = mapped_column(Text)  # a bank account's (bank, number or IBAN, branch)
    proven_at: Mapped[datetime | None]  # a wallet's number answered the code
    set_by: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __table_args__ = (
        CheckConstraint("(kind = 'bank') = (bank_details IS NOT NULL)", name="bank_has_details"),
        CheckConstraint("(kind = 'bank') OR (msisdn IS NOT NULL AND proven_at IS NOT NULL)", name="wallet_proven"),
    )


class PayoutState(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"  # requested; an owner who did not request it approves or declines
    DECLINED = "declined"
    REQUESTED = "requested"  # approved: to be sent (again, after a failed attempt, with the same reference)
    SENT = "sent"  # the provider took it; its status says when it is done
    BY_HAND = "by_hand"  # approved, to be paid by hand (a bank account, an Orange wallet), then marked paid
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the provider refused it for good: the money is back in the balance


class Payout(Base):
    """Money paid to a contest's organiser out of its balance, in one currency."""

    __tablename__ = "payouts"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)  # the provider's X-Reference-Id
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(32))  # its account's, when it was requested
    msisdn: Mapped[str | None] = mapped_column(String(16))
    holder: Mapped[str] = mapped_column(String(200))
    bank_details: Mapped[str | None] = mapped_column(Text)
    state: Mapped[PayoutState] = mapped_column(enum_column(PayoutState, "payout_state"),
                                               server_default=PayoutState.AWAITING_APPROVAL.value)
    requested_by: Mapped[str] = mapped_column(String(320))
    approved_by: Mapped[str | None] = mapped_column(String(320))
    approved_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    due_at: Mapped[datetime] = mapped_column(server_default=func.now())  # its next send, or its next status look
    provider_txn_id: Mapped[str | None] = mapped_column(String(200))
    provider_reason: Mapped[str | None] = mapped_column(Text)
    proof: Mapped[str | None] = mapped_column(Text)  # a payment by hand: the bank's reference of the transfer
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    decided_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_payouts_contest", "contest_id", "created_at"),
        Index("ix_payouts_due", "due_at", postgresql_where=text("state IN ('requested', 'sent')")),
    )


class ProviderBalance(Base):
    """One reading of a platform account's balance at a provider, next to what the books said at that moment
    (gateway.core.money_out.balance_check): between two readings, the balance must have moved as the books did, give
    or take what was on its way."""

    __tablename__ = "provider_balances"
    __table_args__ = (Index("ix_provider_balances_account", "provider", "account", "currency", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(16))  # "collection" or "disbursement"
    currency: Mapped[str] = mapped_column(String(3))
    balance: Mapped[int] = mapped_column(BigInteger)  # as the provider says, minor units
    books: Mapped[int] = mapped_column(BigInteger)  # the books' net of everything decided through this account
    maybe_in: Mapped[int] = mapped_column(BigInteger)  # on its way in, perhaps already in the balance
    maybe_out: Mapped[int] = mapped_column(BigInteger)  # on its way out, perhaps already gone from it
    read_at: Mapped[datetime] = mapped_column(server_default=func.now())
