"""SMS's settings (Africa's Talking's messaging API, whose account the phone layer holds): a model of its own, one
of the bases of the assembly's `Settings`.

Imports nothing of the assembly: `assembly.settings` imports it."""

from __future__ import annotations

from pydantic import SecretStr

from channels.phone.settings import AtMessagingSettings
from gateway.kit.settings import MIN_CALLBACK_TOKEN_LENGTH, secret_problem


class SmsSettings(AtMessagingSettings):
    """AT's messaging account (channels.phone.settings) and what SMS voting adds to it."""

    at_short_code: str | None = None
    # AT does not sign SMS callbacks either, so the inbound and delivery-report URLs end in ?token=<it>
    # (required in production).
    sms_callback_token: SecretStr | None = None


def sms_token_problem(settings: SmsSettings) -> str | None:
    """The same rule as USSD's token, for the SMS callbacks."""
    return secret_problem("SMS_CALLBACK_TOKEN", settings.sms_callback_token, MIN_CALLBACK_TOKEN_LENGTH)


def sms_token_usable(settings: SmsSettings) -> bool:
    """Whether SMS_CALLBACK_TOKEN can tell Africa's Talking from anybody else."""
    return sms_token_problem(settings) is None
