"""Africa's Talking's messaging account, which both phone channels text through (SMS's replies and receipts, USSD's
receipts): a model of its own that `SmsSettings` and `UssdSettings` extend, so each reads it typed as its own and the
assembly's `Settings` holds it once."""

from __future__ import annotations

from pydantic import SecretStr

from gateway.kit.settings import ServiceSettings


class AtMessagingSettings(ServiceSettings):
    at_username: str | None = None
    at_api_key: SecretStr | None = None
    at_sender_id: str | None = None
    # The local fake of AT's messaging API used when AT_USERNAME/AT_API_KEY are unset (development), and which short
    # codes are premium (send_premium).
    at_fake_url: str | None = None
    at_premium_short_codes: str = ""
