"""Settings, read once from the environment and passed down."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from channels.sms.settings import SmsSettings
from channels.ussd.settings import UssdSettings
from gateway.secret_rules import (  # re-exported: the rules every secret setting is held to
    DEV_SECRET_KEY,
    MIN_CALLBACK_TOKEN_LENGTH,
    MIN_PROVIDER_SECRET_LENGTH,
    secret_problem,
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message names it."""


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


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
    mtn_momo_target_environment: str = "sandbox"
    # MTN caps status GETs per account (~10/s, its developer guidance); 0 lifts our pacing (bench only).
    mtn_momo_status_calls_per_second: float = Field(default=10.0, ge=0)


class OrangeWebPaySettings(BaseModel):
    """Orange Money WebPay, the payment page for web and Telegram voters (`payments.orange.webpay`)."""

    orange_money_base_url: Annotated[str | None, NEEDED] = None
    orange_money_token_url: str | None = None
    orange_money_client_id: Annotated[str | None, NEEDED] = None
    orange_money_client_secret: Annotated[SecretStr | None, NEEDED_SECRET] = None
    orange_money_merchant_key: Annotated[SecretStr | None, NEEDED] = None  # an identifier, not checked as a secret
    orange_money_country: str = "dev"


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


class Settings(BaseSettings, MtnSettings, OrangeWebPaySettings, OrangePushSettings, StripeSettings,
               UssdSettings, SmsSettings):
    """Every setting of the service; environment names match the architecture note. Each payment
    provider's settings are its own model above, and each channel's its own model in its folder (a new
    channel with settings adds its model to these bases), of which Settings is made."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    gateway_env: Environment = Environment.DEVELOPMENT
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    gateway_data_dir: Path = Path("./var")
    gateway_web_processes: int = Field(default=1, ge=1)
    gateway_worker_processes: int = Field(default=2, ge=1)
    database_url: str | None = None
    redis_url: str | None = None
    public_base_url: str = "http://127.0.0.1:8080"
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    log_level: str = "INFO"
    log_json: bool | None = None  # unset: one short line each in development on a terminal, JSON otherwise
    # Who may read /metrics (it counts orders): comma-separated addresses/CIDRs, from the direct peer only
    # (unset: loopback in development, nobody in production; empty: nobody), or any request with
    # `Authorization: Bearer <METRICS_TOKEN>` (16+ characters).
    metrics_allow: str | None = None
    metrics_token: SecretStr | None = None
    # MTN, Orange and Stripe: their own models above (MtnSettings, OrangeWebPaySettings, …).

    # USSD and SMS: their own models in channels/ussd/settings.py and channels/sms/settings.py.

    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_base: str | None = None
    # Telegram: with no token in development, the bot talks to the local fake Bot API here.
    telegram_fake_api_url: str = "http://127.0.0.1:8092"  # beside the payment sandbox (8090) and AT's fake (8091)
    # A Stars payment counts at once on the webhook's word; Telegram's list of transactions may lag it by a
    # little, so a charge it does not list is looked for again this long before its votes are taken back off.
    stars_verify_within_seconds: int = Field(default=300, ge=0)

    # The local MTN/Orange sandbox, used in development by providers that have no credentials.
    sandbox_url: str = "http://127.0.0.1:8090"
    sandbox_enabled: bool = True

    # Live board streams: per address and process (carriers put many viewers behind one address),
    # and the heartbeat that keeps proxies from closing an idle stream.
    streams_per_ip: int = Field(default=100, ge=1)
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0)

    # How long a pending order waits for its payment before it is expired (MTN: ~5-7 min).
    order_pending_ttl_seconds: int = 600

    # Peers whose X-Forwarded-For is believed (comma-separated addresses or CIDRs): our own reverse
    # proxies. Unset: loopback in development, nobody in production; "" trusts nobody.
    trusted_proxies: str | None = None
    # A request's body must arrive within this long after its headers (else 408, and the connection is closed).
    request_body_seconds: float = Field(default=10.0, gt=0)

    # Signed results: the Ed25519 key that signs results sheets, PEM (PKCS#8) or base64 of its 32 raw
    # bytes. Required in production; in development a key is made once in GATEWAY_DATA_DIR.
    results_signing_key: SecretStr | None = None
    # "My vote counted": look-ups of an order reference per client address and minute.
    receipt_lookups_per_minute: int = Field(default=10, ge=1)
    # …and from all addresses together: references are 8 hex digits, so a guesser with many addresses (an IPv6
    # /48 is 65,536 of our /64s) must not sample a sealed contest's orders at will.
    receipt_lookups_per_minute_total: int = Field(default=600, ge=1)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str | None) -> str | None:
        if value is not None:
            parse_networks(value)  # a typo stops start-up rather than trusting nobody (or everybody)
        return value

    @property
    def proxy_networks(self) -> tuple[Network, ...]:
        """The peers whose X-Forwarded-For is read (see `gateway.throttle.address_key`)."""
        if self.trusted_proxies is None:
            return () if self.is_production else LOOPBACK
        return parse_networks(self.trusted_proxies)

    @property
    def is_production(self) -> bool:
        return self.gateway_env is Environment.PRODUCTION

    def missing_provider_credentials(self, provider: str) -> list[str]:
        """Names of the settings a provider needs that are unset."""
        model = PROVIDER_SETTINGS.get(provider)
        return unset_settings(model, self) if model else []


@functools.lru_cache(maxsize=8)
def parse_networks(text: str) -> tuple[Network, ...]:
    """"10.0.0.0/8, 192.168.1.5" as networks (a bare address is a network of one); ValueError names a bad one."""
    networks = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"TRUSTED_PROXIES: {item!r} is not an address or CIDR network") from exc
    return tuple(networks)


def check_servers(settings: Settings) -> None:
    """Production keeps its data on servers of its own: embedded ones live in a local folder."""
    if settings.is_production and not (settings.database_url and settings.redis_url):
        raise ConfigError("DATABASE_URL and REDIS_URL must be set in production")


def provider_secret_problems(settings: Settings, provider: str) -> list[str]:
    """The provider's secrets that are set but could not be real (unset ones are reported as missing)."""
    model = PROVIDER_SETTINGS.get(provider)
    names = marked_settings(model, secrets_only=True) if model else ()
    values = ((name, getattr(settings, name.lower())) for name in names)
    problems = (secret_problem(name, value, MIN_PROVIDER_SECRET_LENGTH) for name, value in values if value)
    return [problem for problem in problems if problem]


# Secrets of ours or of a provider checked whenever they are set (a provider in use is checked by
# `provider_secret_problems`); PINs and merchant keys are identifiers, not secrets, and are left out.
SECRETS_WHEN_SET = ("TELEGRAM_WEBHOOK_SECRET", "METRICS_TOKEN",
                    *marked_settings(OrangePushSettings, secrets_only=True))


def results_key_problem(settings: Settings) -> str | None:
    """Production signs results with a key of its own: none, or one that cannot be read, refuses to start."""
    from gateway.core.results import BadKey, private_key

    if settings.results_signing_key is None or not settings.results_signing_key.get_secret_value().strip():
        return "RESULTS_SIGNING_KEY must be set (an Ed25519 key: results sheets are signed with it)"
    try:
        private_key(settings.results_signing_key.get_secret_value())
    except BadKey:
        return "RESULTS_SIGNING_KEY must be an Ed25519 private key (PEM, or base64 of its 32 raw bytes)"
    return None


def check_production(settings: Settings, providers_in_use: set[str], channel_problems: Sequence[str] = ()) -> None:
    """Refuse to run production with a default or weak secret, a used provider lacking credentials, or what a
    channel reports (`ChannelParts.production_problems`: e.g. open USSD routes)."""
    if not settings.is_production:
        return
    problems: list[str] = []
    if secret_key := secret_problem("SECRET_KEY", settings.secret_key):
        problems.append(secret_key)
    if not settings.database_url:
        problems.append("DATABASE_URL must be set (the embedded database is for development)")
    if not settings.redis_url:
        problems.append("REDIS_URL must be set (the embedded Redis is for development)")
    if not settings.public_base_url.startswith("https://"):
        problems.append("PUBLIC_BASE_URL must be an https:// address: providers call it back with payment news, "
                        "and the CSRF cookie is bound to the site only over HTTPS")
    for name in SECRETS_WHEN_SET:
        value = getattr(settings, name.lower())
        if value and (problem := secret_problem(name, value, MIN_CALLBACK_TOKEN_LENGTH)):
            problems.append(problem)
    problems.extend(channel_problems)
    if problem := results_key_problem(settings):
        problems.append(problem)
    for provider in sorted(providers_in_use):
        missing = settings.missing_provider_credentials(provider)
        if missing:
            problems.append(f"provider '{provider}' is enabled by a contest but {', '.join(missing)} unset")
        problems.extend(provider_secret_problems(settings, provider))
    if problems:
        raise ConfigError("refusing to start in production: " + "; ".join(problems))


# Telegram: where the bot's calls go.
DEV_TELEGRAM_TOKEN = "42:DEVELOPMENT-FAKE-BOT"  # only ever sent to the local fake Bot API


@dataclass(frozen=True)
class TelegramBotAddress:
    token: str
    api_base: str | None  # None: Telegram itself
    fake: bool  # the local fake Bot API (development without a token)


def telegram_bot_address(settings: Settings) -> TelegramBotAddress | None:
    """The bot's token and Bot API server; None when the bot is off (no token in production)."""
    if settings.telegram_bot_token is not None and settings.telegram_bot_token.get_secret_value():
        return TelegramBotAddress(settings.telegram_bot_token.get_secret_value(), settings.telegram_api_base, False)
    if settings.is_production:
        return None
    return TelegramBotAddress(DEV_TELEGRAM_TOKEN, settings.telegram_api_base or settings.telegram_fake_api_url, True)


DEV_TELEGRAM_SECRET = "development-telegram-webhook-secret"


def telegram_webhook_secret(settings: Settings) -> str | None:
    """The secret Telegram sends with every update; a development default only outside production."""
    if settings.telegram_webhook_secret is not None and settings.telegram_webhook_secret.get_secret_value():
        return settings.telegram_webhook_secret.get_secret_value()
    return None if settings.is_production else DEV_TELEGRAM_SECRET
