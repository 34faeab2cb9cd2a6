"""SMS's settings (Africa's Talking's messaging API): a model of its own, one of the bases of the assembly's `Settings`.

Imports nothing of the assembly: `assembly.settings` imports it."""

from __future__ import annotations

from pydantic import SecretStr

from gateway.kit.settings import MIN_CALLBACK_TOKEN_LENGTH, ServiceSettings, secret_problem


class SmsSettings(ServiceSettings):
    at_username: str | None = None
    at_api_key: SecretStr | None = None
    at_short_code: str | None = None
    at_sender_id: str | None = None
    # AT does not sign SMS callbacks either, so the inbound and delivery-report URLs end in ?token=<it>
    # (required in production); the local fake of AT's messaging API used when AT_USERNAME/AT_API_KEY are
    # unset (development), and which short codes are premium (send_premium).
    sms_callback_token: SecretStr | None = None
    at_fake_url: str | None = None
    at_premium_short_codes: str = ""


def sms_token_problem(settings: SmsSettings) -> str | None:
    """The same rule as USSD's token, for the SMS callbacks."""
    return secret_problem("SMS_CALLBACK_TOKEN", settings.sms_callback_token, MIN_CALLBACK_TOKEN_LENGTH)


def sms_token_usable(settings: SmsSettings) -> bool:
    """Whether SMS_CALLBACK_TOKEN can tell Africa's Talking from anybody else."""
    return sms_token_problem(settings) is None
