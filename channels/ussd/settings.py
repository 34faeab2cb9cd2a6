"""USSD's settings: a model of its own, one of the bases of the assembly's `Settings`.

Imports nothing of the assembly: `assembly.settings` imports it."""

from __future__ import annotations

from pydantic import Field, SecretStr

from channels.phone.settings import AtMessagingSettings
from gateway.kit.settings import MIN_CALLBACK_TOKEN_LENGTH, secret_problem


class UssdSettings(AtMessagingSettings):
    """AT's messaging account (channels.phone.settings: a USSD vote's receipt goes by SMS) and USSD's own."""

    # Africa's Talking does not sign USSD callbacks: with a token, the callback URLs set in AT's dashboard
    # end in ?token=<it>, and a request without it is refused. Required in production when USSD is in use.
    ussd_callback_token: SecretStr | None = None
    # The payment prompt is itself a USSD push: a handset still showing our END screen can drop it, so
    # it goes out this long after the reply (MTN and Orange both advise closing the session first).
    ussd_push_delay_seconds: float = Field(default=1.0, ge=0)


def ussd_token_problem(settings: UssdSettings) -> str | None:
    return secret_problem("USSD_CALLBACK_TOKEN", settings.ussd_callback_token, MIN_CALLBACK_TOKEN_LENGTH)


def ussd_token_usable(settings: UssdSettings) -> bool:
    """Whether USSD_CALLBACK_TOKEN can tell Africa's Talking from anybody else (start-up and the route agree)."""
    return ussd_token_problem(settings) is None
