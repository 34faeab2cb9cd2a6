"""Which Africa's Talking account a process texts through: the real one, the local fake in development, or none."""

from __future__ import annotations

from dataclasses import dataclass

from channels.phone.settings import AtMessagingSettings


@dataclass(frozen=True)
class AtAccount:
    username: str
    api_key: str
    base_url: str | None  # the local fake of AT's API (development); None: the SDK's own hosts
    sender_id: str | None
    premium_short_codes: frozenset[str]


def at_account(settings: AtMessagingSettings) -> AtAccount | None:
    """Real credentials, else the local fake in development, else None (messages stay `unsent`)."""
    premium = frozenset(code.strip() for code in settings.at_premium_short_codes.split(",") if code.strip())
    if settings.at_username and settings.at_api_key:
        return AtAccount(settings.at_username, settings.at_api_key.get_secret_value(), None, settings.at_sender_id,
                         premium)
    if settings.at_fake_url and not settings.is_production:
        return AtAccount("sandbox", "fake-at-api-key", settings.at_fake_url.rstrip("/"), None, premium)
    return None
