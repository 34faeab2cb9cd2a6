"""Africa's Talking does not sign its callbacks (USSD, SMS): a callback is AT's when its URL carries the token we
gave AT. One rule for both channels."""

from __future__ import annotations

import hmac

from pydantic import SecretStr

from gateway.core.errors import DomainError


class UnknownCaller(DomainError):
    status = 403
    code = "unknown_caller"


def check_at_token(channel: str, setting: str, expected: SecretStr | None, *, usable: bool, production: bool,
                   given: str) -> None:
    """With a token set, only a URL carrying it is AT's (compared in constant time); production without a usable
    one takes none of the channel's callbacks (a contest may have gained the channel since start-up)."""
    if production and not usable:
        raise UnknownCaller(f"{channel} is off: {setting} is unset or not a usable secret.")
    token = expected.get_secret_value() if expected else ""
    if token and not hmac.compare_digest(given.encode(), token.encode()):
        raise UnknownCaller(f"This {channel} callback does not carry the token set for Africa's Talking.")
