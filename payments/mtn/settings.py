"""MTN MoMo's settings: its Collection product (payments), its Disbursement product (refunds and payouts), and the
local sandbox that stands in for both in development."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, SecretStr

from payments.local_sandbox import SandboxSettings
from payments.settings import NEEDED, NEEDED_SECRET


class MtnCollectionSettings(BaseModel):
    """MTN MoMo Collection (`payments.mtn.collection`)."""

    mtn_momo_base_url: Annotated[str | None, NEEDED] = None
    mtn_momo_subscription_key: Annotated[SecretStr | None, NEEDED_SECRET] = None
    mtn_momo_api_user: Annotated[str | None, NEEDED] = None
    mtn_momo_api_key: Annotated[SecretStr | None, NEEDED_SECRET] = None
    # MTN's name for the system the calls reach: "sandbox" (its test system), or the country's live one as MTN
    # gives it (e.g. mtncameroon); production refuses the sandbox (`payments.mtn.provider.production_problems`).
    mtn_momo_target_environment: str = "sandbox"
    # MTN caps status GETs per account (~10/s, its developer guidance); 0 lifts our pacing (bench only).
    mtn_momo_status_calls_per_second: float = Field(default=10.0, ge=0)


class MtnDisbursementSettings(BaseModel):
    """MTN MoMo Disbursement (`payments.mtn.disbursement`): refunds and payouts sent by MTN itself. Optional: without
    it, MTN refunds are marked for a person to pay back by hand, and payouts paid by hand. The base URL and
    environment are the Collection's."""

    mtn_disbursement_subscription_key: Annotated[SecretStr | None, NEEDED_SECRET] = None
    mtn_disbursement_api_user: Annotated[str | None, NEEDED] = None
    mtn_disbursement_api_key: Annotated[SecretStr | None, NEEDED_SECRET] = None


class MtnSettings(SandboxSettings, MtnCollectionSettings, MtnDisbursementSettings):
    """Every setting of MTN MoMo, as its parts read them."""
