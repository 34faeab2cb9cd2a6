"""What the M-Pesa sandbox knows and keeps: the outcomes its magic numbers choose, the prompts it holds (one open
prompt per phone at a time, as Safaricom locks a subscriber), and Daraja's shapes of answers and errors."""

from __future__ import annotations

import base64
import secrets
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import cached_property
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from payments.sandbox.control import Delay, Plan, SandboxControl, due_time, is_due
from payments.sandbox.tokens import TokenStore

TOKEN_LIFETIME = 3599.0  # what Daraja's OAuth answers, as a string
SHORTCODE = "174379"  # Daraja's public test paybill and its passkey: the sandbox knows no other
PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
EAST_AFRICA = timezone(timedelta(hours=3), "EAT")

# STK Push outcomes by the payer number's last three digits (any other number pays after `success_delay`).
RESULTS = {
    "0": "The service request is processed successfully.",
    "1032": "Request cancelled by user",
    "1037": "DS timeout user cannot be reached",
    "1": "The balance is insufficient for the transaction",
    "2001": "The initiator information is invalid.",
    "1001": "Unable to lock subscriber, a transaction is already in process for the current subscriber",
    "1019": "Transaction has expired",
    "1025": "An error occurred while sending a push request",
    "9999": "An error occurred while sending a push request",
    # A code Daraja never documented (one it might add, "still processing" say): its prompt may still be open.
    "4999": "The transaction is still under processing",
}
NO_RESULT_CODE = ""  # a plan whose answers carry no ResultCode at all
MAGIC_NUMBERS: dict[str, Plan] = {
    "451": Plan("1032", RESULTS["1032"], Delay.SHORT),  # the payer cancels the prompt
    "452": Plan("1037", RESULTS["1037"], Delay.SHORT),  # the phone never answers
    "453": Plan("pending", None, Delay.NEVER),  # the prompt stays open (and the number locked) for good
    "454": Plan("0", RESULTS["0"], Delay.LONG),  # pays after `long_delay`
    "455": Plan("1", RESULTS["1"], Delay.SHORT),  # insufficient balance
    "456": Plan("2001", RESULTS["2001"], Delay.SHORT),  # wrong PIN
    "458": Plan("1001", RESULTS["1001"], Delay.SHORT),  # every prompt's result: the phone is held by another
    "459": Plan("1019", RESULTS["1019"], Delay.SHORT),  # the transaction expired
    "460": Plan("1025", RESULTS["1025"], Delay.SHORT),  # the prompt could not be sent
    "461": Plan("9999", RESULTS["9999"], Delay.SHORT),  # the prompt could not be sent
    "462": Plan("4999", RESULTS["4999"], Delay.SHORT),  # an undocumented code
    "463": Plan(NO_RESULT_CODE, "The service request is being processed", Delay.SHORT),  # no ResultCode at all
}
# The first prompt to such a number is taken, then its result says the phone was held by another (1001); the
# prompts after it pay.
HELD_ONCE = "457"
ANY_OTHER = Plan("0", RESULTS["0"], Delay.SHORT)


def describe_magic_numbers() -> dict[str, str]:
    described = {f"2547xxxxx{ending}": f"ResultCode {plan.status or 'absent'} ({plan.delay})" for ending, plan in
                 MAGIC_NUMBERS.items()}
    return described | {f"2547xxxxx{HELD_ONCE}": "ResultCode 1001 for its first prompt, 0 for the next ones",
                        "any other 2547… / 2541…": "ResultCode 0 after success_delay",
                        "a second prompt while one is open": "500 errorCode 500.001.1001 (unable to lock subscriber)"}


@dataclass(frozen=True)
class C2bPayment:
    """A payment into the shortcode as Pull Transactions lists it."""

    receipt: str
    phone: str
    amount: int  # whole shillings
    bill_reference: str
    paid_at: datetime


@dataclass(frozen=True)
class C2bUrls:
    """A shortcode's registered C2B URLs, and what Daraja does when its validation does not answer."""

    response_type: str  # "Completed" | "Cancelled"
    confirmation: str
    validation: str


def new_receipt() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(10))


@dataclass
class Prompt:
    """One accepted STK Push."""

    merchant_id: str
    checkout_id: str
    phone: str
    amount: int
    callback_url: str
    plan: Plan
    due_at: float | None
    account_reference: str = ""
    receipt: str = field(default_factory=new_receipt)
    paid_at: datetime | None = None  # when the payer approved it (its C2B transaction in the shortcode's books)

    def is_open(self, now: float) -> bool:
        return not is_due(self.due_at, now)

    def result(self) -> dict[str, Any]:
        """The stkCallback of a decided prompt (its CallbackMetadata only when it paid)."""
        found: dict[str, Any] = {"MerchantRequestID": self.merchant_id, "CheckoutRequestID": self.checkout_id,
                                 "ResultDesc": self.plan.reason}
        if self.plan.status != NO_RESULT_CODE:
            found["ResultCode"] = int(self.plan.status)
        if self.plan.status == "0":
            paid_at = int(datetime.now(EAST_AFRICA).strftime("%Y%m%d%H%M%S"))
            found["CallbackMetadata"] = {"Item": [
                {"Name": "Amount", "Value": float(self.amount)}, {"Name": "MpesaReceiptNumber", "Value": self.receipt},
                {"Name": "Balance"}, {"Name": "TransactionDate", "Value": paid_at},
                {"Name": "PhoneNumber", "Value": int(self.phone)}]}
        return found


@dataclass(frozen=True)
class CarriedOut:
    """A reversal or B2C payment Daraja decided: its Result (posted or not), for the Transaction Status query."""

    result: dict[str, Any]
    amount: int


def new_key() -> rsa.RSAPrivateKey:
    """The sandbox's own "Safaricom certificate": the initiator's password is encrypted with its public half."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class MpesaState:
    tokens: TokenStore = field(default_factory=TokenStore)
    prompts: dict[str, Prompt] = field(default_factory=dict)  # by CheckoutRequestID
    reversed: set[str] = field(default_factory=set)  # receipts given back
    payouts: dict[str, dict[str, str]] = field(default_factory=dict)  # B2C answers by OriginatorConversationID
    b2c_sent: int = 0  # B2C payments carried out (more than `payouts` where a repeat is paid again)
    carried_out: dict[str, CarriedOut] = field(default_factory=dict)  # by OriginatorConversationID
    # Payments into the shortcode made on the phone's own menu (no prompt of ours): Pull Transactions lists them.
    c2b: list[C2bPayment] = field(default_factory=list)
    pull_registered: bool = False  # the shortcode registered for Pull Transactions
    # The C2B URLs each shortcode registered (Register URL): where a simulated payment's validation and
    # confirmation go (payments.sandbox.mpesa.c2b).
    c2b_urls: dict[str, C2bUrls] = field(default_factory=dict)

    @cached_property
    def key(self) -> rsa.RSAPrivateKey:
        """Made when M-Pesa's money out first needs it: a 2048-bit key takes ~50-100 ms of CPU, and most starts of
        the sandbox (every stand-in, every test's) never pay anyone out over M-Pesa."""
        return new_key()

    def paid_prompt(self, receipt: str, now: float) -> Prompt | None:
        return next((prompt for prompt in self.prompts.values()
                     if prompt.receipt == receipt and prompt.plan.status == "0" and not prompt.is_open(now)), None)

    def open_prompt(self, phone: str, now: float) -> Prompt | None:
        """The prompt open on `phone`, if any: Safaricom locks the subscriber until it is decided."""
        return next((prompt for prompt in self.prompts.values() if prompt.phone == phone and prompt.is_open(now)),
                    None)

    def accept(self, phone: str, amount: int, callback_url: str, now: float, control: SandboxControl,
               account_reference: str = "") -> Prompt:
        plan = MAGIC_NUMBERS.get(phone[-3:], ANY_OTHER)
        if phone.endswith(HELD_ONCE) and not any(prompt.phone == phone for prompt in self.prompts.values()):
            plan = MAGIC_NUMBERS["458"]
        due_at = due_time(plan.delay, now, control)
        prompt = Prompt(f"{uuid.uuid4().int % 10**5}-{uuid.uuid4().int % 10**9}-1",
                        f"ws_CO_{datetime.now(EAST_AFRICA):%d%m%Y%H%M%S}{secrets.randbelow(10**12):012d}",
                        phone, amount, callback_url, plan, due_at, account_reference)
        if due_at is not None and plan.status == "0":
            prompt.paid_at = datetime.now(UTC) + timedelta(seconds=max(0.0, due_at - now))
        self.prompts[prompt.checkout_id] = prompt
        return prompt


MPESA = web.AppKey("mpesa_sandbox", MpesaState)


def daraja_error(status: int, code: str, message: str) -> web.Response:
    """Daraja's error shape: {"requestId", "errorCode", "errorMessage"}."""
    return web.json_response({"requestId": f"{secrets.randbelow(10**5)}-{secrets.randbelow(10**8)}-1",
                              "errorCode": code, "errorMessage": message}, status=status)


def failure(status: int) -> web.Response:
    """The gateway's answer during an outage (500, 503) or over the app's spike arrest (429)."""
    if status == 429:
        return daraja_error(429, "429.001.01", "Spike arrest violation")
    return daraja_error(status, f"{status}.003.02", "Service is currently unreachable. Please try again later.")


def password_holds(shortcode: str, password: str, timestamp: str) -> bool:
    expected = base64.b64encode(f"{shortcode}{PASSKEY}{timestamp}".encode()).decode()
    return shortcode == SHORTCODE and secrets.compare_digest(expected, password)
