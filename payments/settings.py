"""The payment providers' settings: each provider's own model, and `PaymentSettings` made of them all (one of
the bases of the assembly's `Settings`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr

from gateway.kit.settings import MIN_CALLBACK_TOKEN_LENGTH, MIN_PROVIDER_SECRET_LENGTH, ServiceSettings, secret_problem


@dataclass(frozen=True)
class ProviderSetting:
    """How production treats a provider setting so marked (`Annotated[..., NEEDED]`): `needed`, it refuses to
    start without it when a contest uses the provider; `issued_secret`, it refuses one that could not be real."""

    needed: bool = True
    issued_secret: bool = False


NEEDED = ProviderSetting()
NEEDED_SECRET = ProviderSetting(issued_secret=True)


class MtnSettings(BaseModel):
    """MTN MoMo Collection (`payments.mtn`)."""

    mtn_momo_base_url: Annotated[str | None, NEEDED] = None
    mtn_momo_subscription_key: Annotated[SecretStr | None, NEEDED_SECRET] = None
    mtn_momo_api_user: Annotated[str | None, NEEDED] = None
    mtn_momo_api_key: Annotated[SecretStr | None, NEEDED_SECRET] = None
    # MTN's name for the system the calls reach: "sandbox" (its test system), or the country's live one as MTN
    # gives it (e.g. mtncameroon); production refuses the sandbox (`live_problems`).
    mtn_momo_target_environment: str = "sandbox"
    # MTN caps status GETs per account (~10/s, its developer guidance); 0 lifts our pacing (bench only).
    mtn_momo_status_calls_per_second: float = Field(default=10.0, ge=0)


class MtnDisbursementSettings(BaseModel):
    """MTN MoMo Disbursement (`payments.mtn.disbursement`): refunds sent by MTN itself. Optional: without it,
    MTN refunds are marked for a person to pay back by hand. The base URL and environment are the Collection's."""

    mtn_disbursement_subscription_key: Annotated[SecretStr | None, NEEDED_SECRET] = None
    mtn_disbursement_api_user: Annotated[str | None, NEEDED] = None
    mtn_disbursement_api_key: Annotated[SecretStr | None, NEEDED_SECRET] = None


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


class StripeSettings(BaseModel):
    """Stripe Checkout (`payments.stripe`); no local sandbox: without keys, cards are not offered."""

    stripe_secret_key: Annotated[SecretStr | None, NEEDED_SECRET] = None
    stripe_webhook_secret: Annotated[SecretStr | None, NEEDED_SECRET] = None
    stripe_api_base: str | None = None


# The settings production checks for a provider a contest uses (Orange's push is optional, see above).
PROVIDER_SETTINGS: dict[str, type[BaseModel]] = {
    "mtn": MtnSettings, "orange": OrangeWebPaySettings, "stripe": StripeSettings}


def marked_settings(model: type[BaseModel], *, secrets_only: bool = False) -> tuple[str, ...]:
    """The environment names of a provider model's NEEDED settings (or of its issued secrets only)."""
    return tuple(name.upper() for name, field in model.model_fields.items()
                 if any(isinstance(mark, ProviderSetting) and (mark.issued_secret or not secrets_only)
                        for mark in field.metadata))


def unset_settings(model: type[BaseModel], settings: BaseModel) -> list[str]:
    """The environment names of a provider model's NEEDED settings that `settings` leaves unset."""
    return [name for name in marked_settings(model) if not getattr(settings, name.lower())]


class PaymentSettings(ServiceSettings, MtnSettings, MtnDisbursementSettings, OrangeWebPaySettings, OrangePushSettings,
                      StripeSettings):
    """Every provider's settings, the local sandbox's and the Stars checks'."""

    # The local MTN/Orange sandbox, used in development by providers that have no credentials.
    sandbox_url: str = "http://127.0.0.1:8090"
    # A Stars payment counts at once on the webhook's word; Telegram's list of transactions may lag it by a
    # little, so a charge it does not list is looked for again this long before its votes are taken back off.
    stars_verify_within_seconds: int = Field(default=300, ge=0)

    def missing_provider_credentials(self, provider: str) -> list[str]:
        """Names of the settings a provider needs that are unset."""
        model = PROVIDER_SETTINGS.get(provider)
        return unset_settings(model, self) if model else []


def provider_secret_problems(settings: PaymentSettings, provider: str) -> list[str]:
    """The provider's secrets that are set but could not be real (unset ones are reported as missing)."""
    model = PROVIDER_SETTINGS.get(provider)
    names = marked_settings(model, secrets_only=True) if model else ()
    values = ((name, getattr(settings, name.lower())) for name in names)
    problems = (secret_problem(name, value, MIN_PROVIDER_SECRET_LENGTH) for name, value in values if value)
    return [problem for problem in problems if problem]


def push_secret_problems(settings: PaymentSettings) -> list[str]:
    """Orange push's secrets, checked whenever they are set (PINs and merchant keys are identifiers, left out)."""
    names = marked_settings(OrangePushSettings, secrets_only=True)
    values = ((name, getattr(settings, name.lower())) for name in names)
    problems = (secret_problem(name, value, MIN_CALLBACK_TOKEN_LENGTH) for name, value in values if value)
    return [problem for problem in problems if problem]


def provider_problems(settings: PaymentSettings, providers_in_use: set[str]) -> list[str]:
    """What stops production for the providers contests use: credentials unset, or secrets that could not be real."""
    problems: list[str] = []
    for provider in sorted(providers_in_use):
        missing = settings.missing_provider_credentials(provider)
        if missing:
            problems.append(f"provider '{provider}' is enabled by a contest but {', '.join(missing)} unset")
        problems.extend(provider_secret_problems(settings, provider))
    return problems


# What the providers' test systems are called: production must never reach one (`live_problems`).
MTN_SANDBOX_ENVIRONMENT = "sandbox"
MTN_SANDBOX_HOSTS = frozenset({"sandbox.momodeveloper.mtn.com"})
ORANGE_SANDBOX_COUNTRY = "dev"
STRIPE_TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")


def live_problems(settings: PaymentSettings, providers_in_use: set[str]) -> list[str]:
    """Production's providers are the live ones. A sandbox approves payments nobody made, so a show pointed at one
    would count votes for no money, and prompt no real voter: each provider production offers (all its
    credentials set) or a contest uses must not name a test system, hold a test key, or be reached over plain
    HTTP (the local stand-ins' way)."""

    def offered(model: type[BaseModel]) -> bool:
        return not unset_settings(model, settings)

    problems: list[str] = []
    if "mtn" in providers_in_use or offered(MtnSettings):
        if settings.mtn_momo_target_environment.strip().lower() == MTN_SANDBOX_ENVIRONMENT:
            problems.append("MTN_MOMO_TARGET_ENVIRONMENT is 'sandbox' (its default), MTN's test system: voters "
                            "would get no prompt and votes no money; set the live environment MTN gave for the "
                            "country (e.g. mtncameroon)")
        if urlsplit(settings.mtn_momo_base_url or "").hostname in MTN_SANDBOX_HOSTS:
            problems.append("MTN_MOMO_BASE_URL is MTN's sandbox: set its live API's address (e.g. "
                            "https://proxy.momoapi.mtn.com)")
        problems += plain_addresses(settings, "MTN_MOMO_BASE_URL")
    if "orange" in providers_in_use or offered(OrangeWebPaySettings):
        if settings.orange_money_country.strip().lower() == ORANGE_SANDBOX_COUNTRY:
            problems.append("ORANGE_MONEY_COUNTRY is 'dev' (its default), Orange WebPay's sandbox: set the live "
                            "API's country (e.g. cm)")
        problems += plain_addresses(settings, "ORANGE_MONEY_BASE_URL", "ORANGE_MONEY_TOKEN_URL")
    if offered(OrangePushSettings):
        problems += plain_addresses(settings, "ORANGE_MONEY_PUSH_BASE_URL")
    if "stripe" in providers_in_use or offered(StripeSettings):
        key = settings.stripe_secret_key.get_secret_value() if settings.stripe_secret_key else ""
        if key.startswith(STRIPE_TEST_KEY_PREFIXES):
            problems.append("STRIPE_SECRET_KEY is a test-mode key (sk_test_/rk_test_): Stripe takes no real card "
                            "with it; set the live one (sk_live_/rk_live_)")
        problems += plain_addresses(settings, "STRIPE_API_BASE")
    return problems


def plain_addresses(settings: PaymentSettings, *names: str) -> list[str]:
    """The provider addresses set that are not https:// (every provider's live API is)."""
    problems = []
    for name in names:
        value = getattr(settings, name.lower())
        if value and urlsplit(value).scheme != "https":
            problems.append(f"{name} must be an https:// address ({value} is not: a local stand-in, whose "
                            "payments are no money)")
    return problems
