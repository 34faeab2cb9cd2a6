"""Orange Money's settings: WebPay (its payment page), its USSD push (through an aggregator), and the local sandbox
that stands in for both in development."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, SecretStr

from payments.local_sandbox import SandboxSettings
from payments.settings import NEEDED, NEEDED_SECRET


class OrangeWebPaySettings(BaseModel):
    """Orange Money WebPay, the payment page for web and Telegram voters (`payments.orange.webpay`)."""

    orange_money_base_url: Annotated[str | None, NEEDED] = None
    orange_money_token_url: str | None = None
    orange_money_client_id: Annotated[str | None, NEEDED] = None
    orange_money_client_secret: Annotated[SecretStr | None, NEEDED_SECRET] = None
    orange_money_merchant_key: Annotated[SecretStr | None, NEEDED] = None  # an identifier, not checked as a secret
    orange_money_country: str = "dev"  # WebPay's path: "dev" is its sandbox (test currency OUV); live: cm, ci, …


class OrangePushSettings(BaseModel):
    """The Orange Cameroon merchant-payment (USSD push) API, reached through an aggregator
    (`payments.orange.push`). Optional: without all of it, Orange voters on USSD/SMS are told Orange is
    unavailable on that channel; its secrets are checked whenever they are set."""

    orange_money_push_base_url: Annotated[str | None, NEEDED] = None
    orange_money_push_consumer_key: Annotated[str | None, NEEDED] = None
    orange_money_push_consumer_secret: Annotated[SecretStr | None, NEEDED_SECRET] = None
    orange_money_push_username: Annotated[str | None, NEEDED] = None
    orange_money_push_password: Annotated[SecretStr | None, NEEDED_SECRET] = None
    orange_money_channel_msisdn: Annotated[str | None, NEEDED] = None
    orange_money_pin: Annotated[SecretStr | None, NEEDED] = None  # an identifier, not checked as a secret


class OrangeSettings(SandboxSettings, OrangeWebPaySettings, OrangePushSettings):
    """Every setting of Orange Money, as its parts read them."""

    # Orange's gateway allows an application 25 requests a second, every API together (`payments.orange.request_cap`);
    # every process's and host's requests share it. 0 lifts our pacing (bench only).
    orange_money_requests_per_second: float = Field(default=25.0, ge=0)
