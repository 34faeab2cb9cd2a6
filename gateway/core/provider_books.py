"""A provider's own books, as the core reads them against ours: the payments it lists (every one over a time range,
or those we asked about), and the balances of the platform's accounts there. Part of the providers' interface
(`gateway.core.providers`, which names them too)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ProviderCharge:
    """A payment as the provider's own books list it (Stripe's balance transactions, M-Pesa's C2B payments): ours
    when it names our order, or its id is the one an order of ours was paid under."""

    txn_id: str
    order_id: uuid.UUID | None  # from the metadata we gave the payment; None: not one of ours, or named by reference
    amount: int  # minor units of `currency`, as charged (not as settled into the account's currency)
    currency: str
    reference: str | None = None  # our payment reference, where the provider keeps that instead (a Stars payload)
    # The first hex digits of our payment reference, where the provider keeps no more of it (an account reference
    # a dozen characters long): ours when one order's reference starts so.
    reference_prefix: str | None = None


@runtime_checkable
class ChargeList(Protocol):
    """A provider whose books list every payment it took over a time range: a payment there that our books do not
    show as paid is found, whether or not we ever asked about it (gateway.core.money_out.money_reconciliation)."""

    async def charges_between(self, start: datetime, end: datetime) -> Sequence[ProviderCharge]:
        """Every payment taken in [start, end); raises PaymentError."""
        ...


@runtime_checkable
class AccountBalance(Protocol):
    """One of the platform's accounts at a provider whose balance it tells (MTN: the Collection account, where
    payments land, and the Disbursement account, which refunds and payouts draw on): read against the books by
    gateway.core.money_out.balance_check."""

    account: str  # "collection" or "disbursement": which of the books' movements it carries

    async def balance(self, currency: str) -> int:
        """What the account holds now, in minor units of `currency`; raises PaymentError (BalanceInOtherCurrency when
        the provider answers in another currency)."""
        ...


@dataclass(frozen=True)
class ListedPayment:
    """One payment as its provider's own list shows it (Stars: the Bot API's `getStarTransactions`)."""

    txn_id: str
    reference: str  # the payment reference of ours it was made for (a Stars invoice's payload)
    amount: int
    currency: str
    refunded: bool = False  # the list shows it given back too


@dataclass(frozen=True)
class PaymentListing:
    """What one read of a provider's payment list found of the payments we asked about."""

    found: Mapping[str, ListedPayment]  # by the provider's transaction id
    # Every payment the provider took since the time asked about was read: one not found is not there.
    # False when the read stopped short (too many pages, an order of the list we cannot rely on).
    complete: bool


@runtime_checkable
class PaymentList(Protocol):
    """A provider with no status call per payment but a list of all of them (Stars): the payments
    counted on its word are verified together, against one read of the list
    (`gateway.core.money_in.verification.by_list`)."""

    # The longest one read may take (its pages × each page's time-out): the entries it answers stay claimed
    # at least this long, so no second worker reads the list again for them meanwhile.
    read_within: timedelta
    # How long the list may lag the word a payment counted on (a chat's): one it does not show yet is looked for
    # again this long before its votes are taken back off.
    lags_by: timedelta

    async def list_payments(self, wanted: frozenset[str], since: datetime) -> PaymentListing:
        """Read the list back to `since` (or until every id in `wanted` is found); raises PaymentError."""
        ...
