"""Airtel Money's settings: one Airtel Africa Open API application (its collections and payouts), the request cap its
gateway is kept under, and the local sandbox that stands in for it in development."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, SecretStr

from payments.local_sandbox import SandboxSettings
from payments.settings import NEEDED, NEEDED_SECRET


class AirtelCollectionSettings(BaseModel):
    """The application's Collection API (`payments.airtel.collection`): https://openapi.airtel.africa live,
    https://openapiuat.airtel.africa its test system (production refuses that one)."""

    airtel_money_base_url: Annotated[str | None, NEEDED] = None
    airtel_money_client_id: Annotated[str | None, NEEDED] = None
    airtel_money_client_secret: Annotated[SecretStr | None, NEEDED_SECRET] = None
    # The private key of the application's "callback authentication" (set in Airtel's portal): a callback whose
    # hash holds counts at once, verified by an enquiry later. Unset: every callback only brings the enquiry forward
    # (bounded: anyone could send it), and production refuses to start unless AIRTEL_MONEY_UNHASHED_CALLBACKS says so.
    airtel_money_callback_key: SecretStr | None = None
    # Production without the key, on purpose (Airtel's hashes do not hold here, `payments.airtel.callback_hash`).
    airtel_money_unhashed_callbacks: bool = False


class AirtelDisbursementSettings(BaseModel):
    """The application's Disbursement API (`payments.airtel.disbursement`): refunds and payouts to Airtel wallets.
    Optional: without it, Airtel refunds are marked for a person to pay back by hand, and payouts paid by hand."""

    # The disbursement wallet's PIN, encrypted with the RSA public key Airtel gives the application (base64, as its
    # portal shows how to make it): the service never holds the PIN itself.
    airtel_money_disbursement_pin: Annotated[SecretStr | None, NEEDED_SECRET] = None


class AirtelSettings(SandboxSettings, AirtelCollectionSettings, AirtelDisbursementSettings):
    """Every setting of Airtel Money, as its parts read them."""

    # Airtel publishes no figure for its gateway's cap; every request of the application (tokens, pushes, enquiries,
    # payouts) is paced under this one, across processes and hosts (`payments.airtel.api`). 0 lifts it (bench only).
    airtel_money_requests_per_second: float = Field(default=10.0, ge=0)
