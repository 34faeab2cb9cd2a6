"""What the Orange sandbox knows and keeps: its request bodies, the outcomes its magic numbers choose, the
payments it holds and their tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from payments.sandbox.control import Delay, Plan
from payments.sandbox.tokens import TokenStore

WEBPAY_TOKEN_LIFETIME = 7_776_000.0  # 90 days, what Orange's OAuth answers
MP_TOKEN_LIFETIME = 3600.0
MP_PREFIX = "/omcoreapis/1.0.2/mp"
WEBPAY_PAGE = "webpay_page"
TERMINAL_WEBPAY = ("SUCCESS", "FAILED", "EXPIRED")

NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=255)]
HttpUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/?#]+\S*$")]
Digits = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]*$")]
LocalMsisdn = Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")]  # 9 local digits, no 237 prefix

# USSD-push outcomes by the subscriber number's last three digits: the same suffixes as MTN's magic numbers,
# so one table serves both (and a demo number like 690000001 simply succeeds). Reason = the French message.
MP_MAGIC_NUMBERS: dict[str, Plan] = {
    "450": Plan("FAILED", "Echec du paiement : erreur interne du système Orange Money.", Delay.SHORT),
    "451": Plan("CANCELLED", "Paiement annulé par l'abonné.", Delay.SHORT),
    "452": Plan("EXPIRED", "Le délai de confirmation du paiement par l'abonné a expiré.", Delay.SHORT),
    "453": Plan("PENDING", None, Delay.NEVER),
    "454": Plan("SUCCESSFULL", "Paiement effectué avec succès.", Delay.LONG),
    "455": Plan("FAILED", "Echec du paiement : abonné Orange Money introuvable.", Delay.SHORT),
}
MP_ANY_OTHER = Plan("SUCCESSFULL", "Paiement effectué avec succès.", Delay.SHORT)

# French 417 messages for the first invalid field of an mp/pay body.
MP_FIELD_MESSAGES = {
    "subscriberMsisdn": "Le numéro de l'abonné (subscriberMsisdn) est invalide : 9 chiffres attendus, sans 237.",
    "channelUserMsisdn": "Le numéro du marchand (channelUserMsisdn) est invalide : 9 chiffres attendus, sans 237.",
    "amount": "Le montant (amount) est invalide : une chaîne de chiffres est attendue.",
    "pin": "Le code PIN (pin) est manquant ou invalide.",
    "payToken": "Le payToken est manquant.",
    "orderId": "L'identifiant de commande (orderId) est manquant.",
    "description": "La description est manquante.",
    "notifUrl": "L'URL de notification (notifUrl) est invalide.",
}


class WebPaymentRequest(BaseModel):
    """`webpayment` body, strict: `amount` is a JSON number here (unlike MTN and mp, where it is a string)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    merchant_key: NonEmpty
    currency: Literal["OUV", "XAF", "XOF"]
    order_id: NonEmpty
    amount: Annotated[float, Field(gt=0)]
    return_url: HttpUrl
    cancel_url: HttpUrl
    notif_url: HttpUrl
    lang: Literal["fr", "en"]
    reference: str = ""


class TransactionStatusRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    order_id: NonEmpty
    amount: float
    pay_token: NonEmpty


class MpPayRequest(BaseModel):
    """`mp/pay` body, strict: `amount` is a string of digits, numbers are 9 local digits."""

    model_config = ConfigDict(extra="ignore", strict=True)

    subscriberMsisdn: LocalMsisdn
    channelUserMsisdn: LocalMsisdn
    amount: Digits
    description: NonEmpty
    orderId: NonEmpty
    pin: Annotated[str, StringConstraints(pattern=r"^[0-9]{4,6}$")]
    payToken: NonEmpty
    notifUrl: HttpUrl | None = None


@dataclass
class WebPayment:
    """One WebPay payment. `outcome`/`due_at` hold the decided or auto-scheduled outcome; see `webpay_status`."""

    pay_token: str
    notif_token: str
    country: str
    request: WebPaymentRequest
    expires_at: float
    txnid: str
    opened: bool = False
    outcome: str | None = None
    due_at: float | None = None


@dataclass
class MpPayment:
    """One USSD-push payment: created by init (no order yet), then paid once."""

    pay_token: str
    id: int
    created_ms: int
    txnid: str
    order: MpPayRequest | None = None
    plan: Plan | None = None
    due_at: float | None = None


@dataclass
class OrangeState:
    webpay_tokens: TokenStore = field(default_factory=TokenStore)
    mp_tokens: TokenStore = field(default_factory=TokenStore)
    webpayments: dict[str, WebPayment] = field(default_factory=dict)  # by pay_token
    orders: dict[tuple[str, str], str] = field(default_factory=dict)  # (merchant_key, order_id) -> pay_token
    mp_payments: dict[str, MpPayment] = field(default_factory=dict)  # by payToken
    token_clients: dict[str, str] = field(default_factory=dict)  # access token -> the application it was issued to
    request_counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # application -> (second, requests in it)

    def over_request_cap(self, cap: float | None, now: float, application: str) -> bool:
        """Count one request of `application`, whichever API it calls; True when it is over `cap` requests in this
        second (Orange's gateway: 403, code 53)."""
        if not cap:
            return False
        second, requests = self.request_counts.get(application, (0, 0))
        if int(now) != second:
            second, requests = int(now), 0
        self.request_counts[application] = (second, requests + 1)
        return requests + 1 > cap


ORANGE = web.AppKey("orange_sandbox", OrangeState)


def txnid(now: datetime) -> str:
    """An Orange-looking transaction id, e.g. MP261121.0545.B12345."""
    letter = secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")
    return f"MP{now:%y%m%d.%H%M}.{letter}{secrets.randbelow(10**5):05d}"
