"""What the Airtel sandbox knows and keeps: the application it stands in for (where it calls back, the key it hashes
callbacks with), the outcomes its magic numbers choose, the transactions it holds and how it writes them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from payments.sandbox.control import Delay, Plan, is_due
from payments.sandbox.tokens import TokenStore

TOKEN_LIFETIME = 180.0  # what Airtel's test system answers ("180", a string)
CALLBACK_KEY = "sandbox-airtel-callback-key"  # the application's callback-authentication key, as the client's
PIN = "sandbox-encrypted-pin"  # the disbursement PIN the application holds, encrypted
DEFAULT_CALLBACK = "http://127.0.0.1:8080/payments/airtel/callback"
Code = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,3}$")]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
National = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{6,9}$")]  # no country code, no leading 0

# By the wallet number's last three digits (payer and payee alike): (final status, response code, delay).
MAGIC_NUMBERS: dict[str, Plan] = {
    "451": Plan("TF", "DP00800001007", Delay.SHORT),  # not enough balance
    "452": Plan("TF", "DP00800001002", Delay.SHORT),  # incorrect PIN
    "453": Plan("TIP", "DP00800001006", Delay.NEVER),  # the payer never answers, and no callback comes
    "454": Plan("TS", "DP00800001001", Delay.LONG),
    "455": Plan("TF", "DP00800001010", Delay.SHORT),  # not registered on Airtel Money
    "456": Plan("TF", "DP00800001008", Delay.SHORT),  # refused
    "457": Plan("TS", "DP00800001001", Delay.SHORT),  # the callback says TS, the enquiry TF (a reversal)
    "458": Plan("TA", "DP00800001000", Delay.NEVER),  # ambiguous for good
    "459": Plan("TF", "DP00800001024", Delay.SHORT),  # timed out
}
ANY_OTHER = Plan("TS", "DP00800001001", Delay.SHORT)
DISAGREEING = "457"
MESSAGES = {"DP00800001000": "Transaction is ambiguous.", "DP00800001001": "Transaction is successful.",
            "DP00800001002": "Incorrect Pin has been entered.", "DP00800001006": "Transaction in pending state.",
            "DP00800001007": "User wallet does not have enough money to cover the payable amount.",
            "DP00800001008": "The transaction was refused.", "DP00800001010": "Transaction not permitted to Payee.",
            "DP00800001024": "The transaction was timed out.", "DP00800001025": "Transaction Not Found."}


class Subscriber(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    country: Code
    currency: Code
    msisdn: National


class PushTransaction(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    amount: Annotated[int | float, Field(gt=0)]
    country: Code
    currency: Code
    id: Id


class PushRequest(BaseModel):
    """`POST /merchant/v1/payments/`, strict: the amount a JSON number, the msisdn without its country code."""

    model_config = ConfigDict(extra="ignore", strict=True)
    reference: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    subscriber: Subscriber
    transaction: PushTransaction


class Payee(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    msisdn: National


class PayoutTransaction(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    amount: Annotated[int | float, Field(gt=0)]
    id: Id


class PayoutRequest(BaseModel):
    """`POST /standard/v1/disbursements/`."""

    model_config = ConfigDict(extra="ignore", strict=True)
    payee: Payee
    reference: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    pin: Annotated[str, StringConstraints(min_length=1)]
    transaction: PayoutTransaction


@dataclass
class Transaction:
    """A push or a payout as Airtel keeps it; its status is a function of time (`status_of`)."""

    id: str
    country: str
    currency: str
    msisdn: str
    amount: int | float
    plan: Plan
    due_at: float | None
    airtel_money_id: str = field(default_factory=lambda: f"MP{secrets.randbelow(10**12):012d}")


@dataclass
class AirtelState:
    tokens: TokenStore = field(default_factory=TokenStore)
    pushes: dict[str, Transaction] = field(default_factory=dict)
    payouts: dict[str, Transaction] = field(default_factory=dict)
    # The application's callback URL and key, as set in Airtel's portal (here: `POST /_app`, or the environment).
    callback_url: str = field(default_factory=lambda: os.environ.get(
        "SANDBOX_AIRTEL_CALLBACK_URL",
        os.environ.get("PUBLIC_BASE_URL", DEFAULT_CALLBACK.rsplit("/payments", 1)[0]).rstrip("/")
        + "/payments/airtel/callback"))
    callback_key: str | None = CALLBACK_KEY  # None: callbacks without a hash (authentication switched off)


AIRTEL = web.AppKey("airtel_sandbox", AirtelState)


def plan_for(msisdn: str) -> Plan:
    return MAGIC_NUMBERS.get(msisdn[-3:], ANY_OTHER)


def status_of(transaction: Transaction, now: float) -> tuple[str, str]:
    """(status, response code): TIP and "in process" until its outcome is due."""
    if is_due(transaction.due_at, now):
        return transaction.plan.status, str(transaction.plan.reason)
    return "TIP", "DP00800001006"


def envelope(data: dict[str, Any] | None, response_code: str, *, code: int = 200, success: bool = True,
             message: str | None = None) -> dict[str, Any]:
    """Airtel's answer: `data` and its `status` block."""
    status = {"code": str(code), "message": message or MESSAGES.get(response_code, "SUCCESS"),
              "result_code": "ESB000010" if success else "ESB000001", "response_code": response_code,
              "success": success}
    return {"data": data, "status": status} if data is not None else {"status": status}


def callback_body(transaction: Transaction, status: str, key: str | None) -> dict[str, Any]:
    """The callback on the application's URL, with its hash when authentication is on."""
    record = {"id": transaction.id, "message": MESSAGES.get(str(transaction.plan.reason), "Done."),
              "status_code": status, "airtel_money_id": transaction.airtel_money_id}
    if key is None:
        return {"transaction": record}
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    digest = base64.b64encode(hmac.new(key.encode(), text.encode(), hashlib.sha256).digest()).decode()
    return {"transaction": record, "hash": digest}
