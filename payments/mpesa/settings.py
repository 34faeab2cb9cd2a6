"""M-Pesa's settings: Daraja's app credentials and the paybill that takes STK Push payments, the initiator that
sends reversals and B2C payouts, the cap on our requests, and the local sandbox that stands in for all of it."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, SecretStr

from payments.local_sandbox import SandboxSettings
from payments.settings import NEEDED, NEEDED_SECRET


class MpesaStkSettings(BaseModel):
    """Daraja's app (OAuth client credentials) and the shortcode whose passkey signs each STK Push
    (`payments.mpesa.stk_push`)."""

    mpesa_base_url: Annotated[str | None, NEEDED] = None  # https://api.safaricom.co.ke (live)
    mpesa_consumer_key: Annotated[str | None, NEEDED] = None
    mpesa_consumer_secret: Annotated[SecretStr | None, NEEDED_SECRET] = None
    mpesa_shortcode: Annotated[str | None, NEEDED] = None  # BusinessShortCode: the paybill (or the till's store)
    mpesa_passkey: Annotated[SecretStr | None, NEEDED_SECRET] = None  # Lipa na M-Pesa Online passkey
    # PartyB, where it is not the shortcode (a till number under a store number); unset: the shortcode.
    mpesa_party_b: str | None = None


class MpesaMoneyOutSettings(BaseModel):
    """The initiator that sends reversals (refunds) and B2C payments (payouts) (`payments.mpesa.money_out`).
    Optional: without it, M-Pesa refunds and payouts are done by hand."""

    mpesa_initiator_name: Annotated[str | None, NEEDED] = None
    # Safaricom issues it (often short): not checked as a key of ours would be, never logged.
    mpesa_initiator_password: Annotated[SecretStr | None, NEEDED] = None
    # Safaricom's public certificate (PEM) the initiator's password is encrypted with: its production one, or
    # its sandbox one, as Daraja's portal gives them.
    mpesa_certificate_path: Annotated[str | None, NEEDED] = None
    mpesa_b2c_shortcode: str | None = None  # the B2C shortcode paying out, where it is not `mpesa_shortcode`
    # Daraja posts a reversal's or payment's result within seconds, or never: one still missing this long after
    # Daraja took the request is looked up by its Transaction Status query (`payments.mpesa.transaction_status`),
    # and asked again this long after a query that was not answered.
    mpesa_status_query_after_seconds: float = Field(default=120.0, ge=0)


class MpesaSettings(SandboxSettings, MpesaStkSettings, MpesaMoneyOutSettings):
    """Every setting of M-Pesa, as its parts read them."""

    # Daraja's gateway refuses an app's requests past its spike arrest (Safaricom sets it per app; a few a second
    # is what it grants by default): every request of the app (token, prompts, queries, reversals, payouts) takes a
    # turn of one schedule shared by every process and host (`payments.mpesa.request_cap`). 0 lifts our pacing.
    mpesa_requests_per_second: float = Field(default=5.0, ge=0)
    # Where a paybill's C2B URLs are registered (payments.mpesa.c2b_register): v2, as Daraja documents it; v1 where
    # Safaricom's support says so for the app.
    mpesa_c2b_register_path: str = "/mpesa/c2b/v2/registerurl"
