"""The one interface every payment provider implements, the values that cross it, and what a provider can do.

The vote core calls providers only through `PaymentProvider`; a provider never touches the
database. Everything here is frozen: values that cross the boundary are not changed in flight.
Each provider declares its `Capability`s; the core, the channels and the admin area decide by those (through
`Providers`), never by a provider's name: a new provider with the same capabilities is served the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from gateway.core.money import Chargeable
from gateway.core.provider_books import AccountBalance as AccountBalance
from gateway.core.provider_books import ChargeList as ChargeList
from gateway.core.provider_books import ListedPayment as ListedPayment
from gateway.core.provider_books import PaymentList as PaymentList
from gateway.core.provider_books import PaymentListing as PaymentListing
from gateway.core.provider_books import ProviderCharge as ProviderCharge


class Capability(StrEnum):
    """What a provider declares it can do (`gateway.kit.provider_parts.ProviderParts.capabilities`)."""

    # It charges a mobile-money wallet named by the payer's phone number: the number is needed (E.164), and the
    # payer approves a prompt on that phone (on its page too, where it has one). Its wallets take payouts.
    PHONE_PROMPT = "phone_prompt"
    REDIRECT = "redirect"  # the payer pays on the provider's own page
    # Paid inside a chat (an invoice in the bot), priced in the contest's chat price (`stars_per_vote`, in Stars)
    # whatever its currency, and offered there whatever providers the contest lists.
    IN_CHAT = "in_chat"
    REFUNDS_SENT = "refunds_sent"  # refunds go out by a call of its own, sent and followed by the core (`RefundsSent`)
    PAYOUTS = "payouts"  # pays a wallet of its own by a call of its own (`PayoutsSent`); else payouts go by hand
    # Its books list every payment it took (`ChargeList`): the money check finds one no order of ours shows.
    STATEMENT_LISTING = "statement_listing"
    # Its phone prompt asks for the wallet's PIN on the phone's screen and is gone once it closes (M-Pesa's STK Push):
    # nothing waits in a menu, so a waiting payer is told to enter the PIN on the prompt (`Approval.PIN_PROMPT`).
    PIN_PROMPT = "pin_prompt"
    # Its prompt may be pushed again for the same order once it says the earlier one is over unpaid: a new start
    # under the order's reference (`gateway.core.money_in.prompting_again`). It refuses a new prompt while another is
    # open on the number, so two are never open at once.
    PROMPT_AGAIN = "prompt_again"
    # Its transaction id is the code its own message to the payer quotes (M-Pesa's MpesaReceiptNumber, MTN's
    # Financial Transaction Id): shown to the voter beside our reference, the proof they quote.
    RECEIPT_CODE = "receipt_code"


class Approval(StrEnum):
    """How a payer approves a phone prompt: what a voter waiting for it is told to do."""

    PIN_PROMPT = "pin_prompt"  # enter the PIN on the prompt that appeared on the phone
    MENU_APPROVAL = "menu_approval"  # approve the prompt, or find the payment waiting in the wallet's menu

    @classmethod
    def of(cls, capabilities: frozenset[Capability]) -> Approval:
        return cls.PIN_PROMPT if Capability.PIN_PROMPT in capabilities else cls.MENU_APPROVAL


class PaymentState(StrEnum):
    PENDING = "pending"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    CHARGED_BACK = "charged_back"  # the card's owner disputed the payment: the bank takes the money back


class PaymentError(Exception):
    """A provider refused or could not answer. `retryable` errors may succeed if sent again
    with the same reference (time-outs, 5xx); others will not (bad payer, amount too small)."""

    def __init__(self, provider: str, code: str, message: str, *, retryable: bool = False,
                 status: int | None = None) -> None:
        super().__init__(f"{provider}: {code}: {message}")
        self.provider = provider
        self.code = code
        self.message = message
        self.retryable = retryable
        self.status = status


class CollectionNotFound(PaymentError):
    """The provider has no collection under our reference: it was never created there."""


class ProviderRateLimited(PaymentError):
    """The provider refused the call for going over its rate (429): ask again on a later turn."""


class RefundUnsupported(PaymentError):
    """This provider cannot refund through its API; a person must do it."""


class BalanceInOtherCurrency(PaymentError):
    """The provider answered a balance in another currency than the one asked: no figure of the currency asked, so
    nothing to set against that currency's books."""

    def __init__(self, provider: str, asked: str, answered: str) -> None:
        super().__init__(provider, "other_currency", f"asked a balance in {asked}, answered one in {answered}")
        self.asked = asked
        self.answered = answered


# provider_data: what each earlier start of the order kept, oldest first, once its status said `start_again`. The
# provider knows by it the prompts that are no longer the order's (a late word of one never counts on its own).
EARLIER_STARTS = "earlier_starts"


@dataclass(frozen=True)
class Collection:
    """One order's payment, as a provider sees it."""

    order_id: uuid.UUID
    reference: uuid.UUID  # ours, chosen before the first call and reused on every retry
    amount: int  # minor units of `currency`
    currency: str
    msisdn: str | None  # E.164, for mobile money
    description: str
    channel: str  # the channel's name: decides push vs. redirect where a provider has both
    provider_data: Mapping[str, Any] = field(default_factory=dict)  # what start() asked us to keep
    # Keeps provider data durably *during* start(), before a step that may charge the payer, so a
    # start cut short (a killed process) is resumed with it rather than repeated. None in tests.
    remember: Callable[[Mapping[str, Any]], Awaitable[None]] | None = None
    # A payment made in a chat (Stars): the voter's chat (an invoice is a chat message) and the charge to refund.
    voter_ref: str | None = None
    provider_txn_id: str | None = None


@dataclass(frozen=True)
class StartResult:
    redirect_url: str | None = None  # where the payer completes the payment (WebPay, Stripe Checkout)
    provider_data: Mapping[str, Any] = field(default_factory=dict)  # kept on the order for later calls


@dataclass(frozen=True)
class PaymentRisk:
    """What a provider says of a payment when it confirms it (Stripe: the charge's Radar risk level and the card's
    country); None where it says nothing. The fraud rules weigh it (gateway.core.fraud.rules.risk_hits)."""

    provider_risk: str | None = None  # "normal" | "elevated" | "highest"
    card_country: str | None = None  # ISO 3166 alpha-2


@dataclass(frozen=True)
class StatusResult:
    """What the provider says about a collection, translated to our states."""

    state: PaymentState
    amount: int | None = None
    currency: str | None = None
    provider_txn_id: str | None = None
    reason: str | None = None  # the provider's reason code or message on failure
    raw_status: str = ""
    risk: PaymentRisk | None = None  # what the provider says of a successful payment's risk (a signal of the rules)
    # Pending, and this start's prompt will never be paid: the provider took it but could not put it before the
    # payer (M-Pesa's 1001: another prompt held the phone). The order's payment is started again, a new prompt,
    # while its window and `starting_again.STARTS_AGAIN` allow; what this start kept moves under EARLIER_STARTS.
    start_again: bool = False
    # Failed or expired, and the provider's word is that this start's prompt is over for sure, unpaid (cancelled,
    # timed out, a wrong PIN, no money): no word of it can still turn to paid. Only then may a new prompt of the same
    # order go out beside it (`gateway.core.money_in.prompting_again`); a failure the provider does not know as final
    # (a code it never documented, none at all) may hide a prompt still open, which a second one could double.
    final: bool = False


@dataclass(frozen=True)
class InboundCallback:
    order_id: uuid.UUID | None  # from our callback URL's path, where the provider has one
    headers: Mapping[str, str]
    body: bytes
    secret: str | None = None  # the per-order secret of our callback URL, where it carries one (MTN); never kept


@dataclass(frozen=True)
class CallbackVerdict:
    """An inbound callback after verification.

    `status` is set only where the callback itself is proof (a verified signature), or comes from the
    provider for sure (a per-order secret only it knows: `verify_later`); otherwise the core must ask
    the provider (`fetch_status`) before anything is counted. `verify_later`: counted at once, and
    checked with `fetch_status` afterwards (a disagreement takes the votes back off). `vouched`: the
    callback is the provider's for sure (its hash, signature or per-order secret held) even where it
    proves nothing by itself; one that is not could have come from anyone, so the check it asks for is
    bounded (`gateway.kit.callback_checks`).
    """

    order_id: uuid.UUID | None
    kind: str
    event_id: str | None = None
    status: StatusResult | None = None
    verify_later: bool = False
    vouched: bool = False
    # Provider data the order keeps once this callback has counted it, beside what it has (which wins): what names the
    # payment for its later status check where the order did not know it yet (M-Pesa: the CheckoutRequestID of a
    # prompt whose start was never recorded, its keep failed or its process died).
    keeps: Mapping[str, Any] = field(default_factory=dict)


class CallbackRejected(PaymentError):
    """A callback failed verification (bad signature, wrong token): it changes nothing."""


class PaymentProvider(Protocol):
    name: str
    redirects: bool  # True: the payer finishes on the provider's page; False: a prompt on the phone
    payment_window: timedelta  # how long after start() the payer may still pay: the order waits this long
    status_calls_per_second: float | None  # the provider's cap on status calls per account (None: none known)

    async def start(self, collection: Collection) -> StartResult:
        """Ask the payer to pay; safe to call again with the same collection."""
        ...

    async def fetch_status(self, collection: Collection) -> StatusResult:
        """The provider's current word on a collection (raises CollectionNotFound)."""
        ...

    async def verify_callback(self, callback: InboundCallback, collection: Collection | None) -> CallbackVerdict:
        """Check an inbound callback is genuine (raises CallbackRejected) and say what it claims."""
        ...

    async def refund(self, collection: Collection) -> StatusResult:
        """Give the money back (raises RefundUnsupported where the API cannot)."""
        ...


@dataclass(frozen=True)
class OutgoingRefund:
    """Money given back by the provider's own API call (MTN's Disbursement `refund`), which the core sends and
    follows: `reference` is ours, kept before the first call and sent on every retry, so the provider refunds
    once however often it is asked."""

    reference: uuid.UUID
    collection: Collection  # the payment it gives back (the provider names it by the collection's reference)
    amount: int  # minor units of `currency`
    currency: str


@runtime_checkable
class RefundsSent(Protocol):
    """A provider that refunds by a call of its own whose outcome comes later (a status GET, a callback)."""

    async def send_refund(self, refund: OutgoingRefund) -> None:
        """Ask for the refund; safe to repeat with the same reference (raises PaymentError)."""
        ...

    async def refund_status(self, refund: OutgoingRefund) -> StatusResult:
        """The provider's word on the refund (raises CollectionNotFound when it never got it)."""
        ...


@dataclass(frozen=True)
class OutgoingPayout:
    """Money paid to a wallet by the provider's own call (MTN's Disbursement `transfer`), sent and followed by the
    core as refunds are: `reference` is ours, kept before the first call and sent on every retry."""

    reference: uuid.UUID
    msisdn: str  # E.164: the payee's wallet
    amount: int  # minor units of `currency`
    currency: str
    note: str  # what the payee's statement says


@runtime_checkable
class PayoutsSent(Protocol):
    """A provider that pays a wallet by a call of its own whose outcome comes later (a status GET)."""

    async def send_payout(self, payout: OutgoingPayout) -> None:
        """Ask for the transfer; safe to repeat with the same reference (raises PaymentError)."""
        ...

    async def payout_status(self, payout: OutgoingPayout) -> StatusResult:
        """The provider's word on the transfer (raises CollectionNotFound when it never got it)."""
        ...


@runtime_checkable
class ChatPayments(Protocol):
    """A provider paid inside a chat (Stars): the chat passes its word of a payment on, which the core hands
    the provider as the provider's own callback (kept, deduplicated and verified as any callback)."""

    def chat_payment_body(self, charge_id: str, amount: int, currency: str, payload: str) -> bytes:
        """The callback body `verify_callback` reads for the payment `charge_id` of the invoice `payload`."""
        ...


@runtime_checkable
class SecretHeaders(Protocol):
    """A provider whose requests to us carry a secret in a header of its own (never stored with an event)."""

    secret_headers: frozenset[str]  # lower-case names


class Providers(Protocol):
    """The payment providers the service knows, and those set up in this process, as the core asks for them
    (`payments.registry` builds them from the providers' parts and the settings; the core never needs to know which
    implementations exist, nor any provider's name)."""

    def names(self) -> tuple[str, ...]:
        """Every provider the service knows, set up here or not, in the order the service lists them."""
        ...

    def capabilities(self, provider: str) -> frozenset[Capability]:
        """What `provider` declares it can do, set up here or not (nothing, for a name the service does not know)."""
        ...

    def having(self, capability: Capability) -> tuple[str, ...]:
        """The providers that declare `capability`, in the service's order."""
        ...

    def label(self, provider: str) -> str:
        """The provider's name as payers know it, where a channel's catalog has no word of its own for it."""
        ...

    def charges(self, provider: str) -> Chargeable:
        """What `provider` declares it can charge, by currency (anything, for a name the service does not know)."""
        ...

    def get(self, key: str) -> PaymentProvider:
        """The provider set up under `key` (raises PaymentError `provider_unavailable`)."""
        ...

    def for_order(self, provider: str, channel: str) -> PaymentProvider:
        """The implementation that serves an order of `provider` placed on `channel`."""
        ...

    def offers(self, provider: str) -> bool:
        """Whether any implementation of `provider` is set up here."""
        ...

    def payment_lists(self) -> Mapping[str, PaymentList]:
        """The providers set up here that are verified against their list of payments, by provider name."""
        ...

    def secret_headers(self) -> frozenset[str]:
        """The headers in which the providers set up here send a secret (`SecretHeaders`)."""
        ...

    def refunder(self, provider: str) -> RefundsSent | None:
        """Where refunds of `provider`'s payments go out by its own API (None: by its `refund`, or by hand)."""
        ...

    def payout_sender(self, provider: str) -> PayoutsSent | None:
        """Where payouts to a wallet of `provider` go out by its own API (None: paid by hand)."""
        ...

    def balances(self, provider: str) -> Sequence[AccountBalance]:
        """The accounts of `provider` set up here whose balance it tells (none: it tells none)."""
        ...
