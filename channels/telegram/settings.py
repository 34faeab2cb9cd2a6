"""Telegram's settings (the bot's token, its Bot API server, the webhook's secret), one of the bases of the
assembly's `Settings`; and where the bot's calls go."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from gateway.kit.settings import MIN_CALLBACK_TOKEN_LENGTH, ServiceSettings, secret_problem

DEV_TELEGRAM_TOKEN = "42:DEVELOPMENT-FAKE-BOT"  # only ever sent to the local fake Bot API
DEV_TELEGRAM_SECRET = "development-telegram-webhook-secret"
TELEGRAM_API = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # the webhook's secret, as Telegram sends it with each update
ALLOWED_UPDATES = ["message", "callback_query", "pre_checkout_query"]  # the updates the bot reads
WEBHOOK_PATH = "/telegram/webhook"  # where Telegram posts the bot's updates (the URL given to setWebhook)


class TelegramSettings(ServiceSettings):
    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_base: str | None = None
    # The bot's @username without the @ (BotFather's): pages link to it (t.me/<username>); unset, they do not.
    telegram_bot_username: str | None = None
    # With no token in development, the bot talks to the local fake Bot API here.
    telegram_fake_api_url: str = "http://127.0.0.1:8092"  # beside the payment sandbox (8090) and AT's fake (8091)


@dataclass(frozen=True)
class TelegramBotAddress:
    token: str
    api_base: str | None  # None: Telegram itself
    fake: bool  # the local fake Bot API (development without a token)

    def method_url(self, method: str) -> str:
        """Where a Bot API method is called: `https://api.telegram.org/bot<token>/sendMessage`."""
        return f"{(self.api_base or TELEGRAM_API).rstrip('/')}/bot{self.token}/{method}"


def telegram_bot_address(settings: TelegramSettings) -> TelegramBotAddress | None:
    """The bot's token and Bot API server; None when the bot is off (no token in production)."""
    if settings.telegram_bot_token is not None and settings.telegram_bot_token.get_secret_value():
        return TelegramBotAddress(settings.telegram_bot_token.get_secret_value(), settings.telegram_api_base, False)
    if settings.is_production:
        return None
    return TelegramBotAddress(DEV_TELEGRAM_TOKEN, settings.telegram_api_base or settings.telegram_fake_api_url, True)


def telegram_webhook_secret(settings: TelegramSettings) -> str | None:
    """The secret Telegram sends with every update; a development default only outside production."""
    if settings.telegram_webhook_secret is not None and settings.telegram_webhook_secret.get_secret_value():
        return settings.telegram_webhook_secret.get_secret_value()
    return None if settings.is_production else DEV_TELEGRAM_SECRET


def webhook_secret_problem(settings: TelegramSettings) -> str | None:
    """TELEGRAM_WEBHOOK_SECRET is checked whenever it is set."""
    if settings.telegram_webhook_secret:
        return secret_problem("TELEGRAM_WEBHOOK_SECRET", settings.telegram_webhook_secret, MIN_CALLBACK_TOKEN_LENGTH)
    return None
