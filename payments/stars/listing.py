"""Reading the bot's Star transactions (`getStarTransactions`) for the payments we counted.

Telegram lists them newest first, `offset`/`limit` paged (100 a page): the Bot API's page says "chronological
order", but the MTProto method under it (`payments.getStarsTransactions`) returns descending by date unless
asked for `ascending`, and the Bot API does not ask. A transaction's `id` is the
`telegram_payment_charge_id` of the `successful_payment` it was; a refund (`refundStarPayment`) is listed
as a transaction of its own, outgoing to the user (`receiver`), with the id of the payment it gave back.
One read serves every payment a verification pass asks about: it stops once all of them are found, or
once it has gone back past the oldest of their orders. Only a read that ends at the end of the list, or
passed that time in a list seen newest first all along, may say a charge is missing: should Telegram ever
list oldest first, a read cut short by the page limit proves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from gateway.core.providers import ListedPayment, PaymentListing

CURRENCY = "XTR"
PAGE_SIZE = 100  # the Bot API's largest page
PAGES_PER_READ = 20  # one verification pass reads back at most 2,000 transactions
PAGE_TIMEOUT_SECONDS = 15.0  # each page's own time-out (connect, send, each read of the answer)


@dataclass(frozen=True)
class StarPayment:
    """An incoming Stars payment as `getStarTransactions` lists it."""

    charge_id: str
    payload: str
    amount: int


def incoming_payment(transaction: dict[str, Any]) -> StarPayment | None:
    """A user's payment for one of our invoices; None for refunds, withdrawals and anything else."""
    source = transaction.get("source") or {}
    if source.get("type") != "user" or not source.get("invoice_payload") or transaction.get("receiver"):
        return None
    return StarPayment(str(transaction["id"]), str(source["invoice_payload"]), int(transaction["amount"]))


def refund_of(transaction: dict[str, Any]) -> str | None:
    """The charge a refund gave back (the id it shares with it); None for any other transaction."""
    receiver = transaction.get("receiver") or {}
    return str(transaction["id"]) if receiver.get("type") == "user" and not transaction.get("source") else None


@dataclass
class ListingRead:
    """One read of the list, page after page, for the charges in `wanted` back to `since` (Unix time)."""

    wanted: frozenset[str]
    since: int
    found: dict[str, ListedPayment] = field(default_factory=dict)
    refunded: set[str] = field(default_factory=set)
    newest_first: bool = True  # every date read so far was no later than the one before it
    last_date: int | None = None
    past_since: bool = False  # a transaction older than `since` was read
    at_end: bool = False  # a short page: the whole list was read

    def take(self, page: list[dict[str, Any]]) -> None:
        for transaction in page:
            date = int(transaction.get("date") or 0)
            if self.last_date is not None and date > self.last_date:
                self.newest_first = False
            self.last_date = date
            self.past_since = self.past_since or date < self.since
            if (charge := refund_of(transaction)) is not None:
                self.refunded.add(charge)
            elif (payment := incoming_payment(transaction)) is not None and payment.charge_id in self.wanted:
                self.found[payment.charge_id] = ListedPayment(payment.charge_id, payment.payload, payment.amount,
                                                              CURRENCY)
        self.at_end = self.at_end or len(page) < PAGE_SIZE

    @property
    def back_to_since(self) -> bool:
        """Whether every transaction dated `since` or later was read: the end of the list, or past `since`
        in a list seen newest first all along (oldest first, a read cut short by a page limit proves nothing)."""
        return self.at_end or (self.newest_first and self.past_since)

    @property
    def complete(self) -> bool:
        """Whether a wanted charge not found by now is not in the list at all (or none is missing)."""
        return self.back_to_since or self.found.keys() >= self.wanted

    def listing(self) -> PaymentListing:
        found = {charge: replace(payment, refunded=charge in self.refunded) for charge, payment in self.found.items()}
        return PaymentListing(found, self.complete)
