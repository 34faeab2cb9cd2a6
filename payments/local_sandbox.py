"""The local MTN/Orange/Airtel sandbox (`payments.sandbox`) as the providers reach it: its settings, a provider's
address in it, and the stand-in `gateway run` starts in development for a provider without credentials of its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from gateway.kit.settings import ServiceSettings
from gateway.kit.stand_ins import StandIn, listen_address

DEFAULT_PORT = 8090


class SandboxSettings(ServiceSettings):
    """Where the local sandbox answers, used in development by providers that have no credentials."""

    sandbox_url: str = f"http://127.0.0.1:{DEFAULT_PORT}"


S = TypeVar("S", bound=SandboxSettings)


def sandbox_address(settings: SandboxSettings, path: str) -> str | None:
    """The sandbox URL for a provider without credentials, in development only."""
    if settings.is_production or not settings.sandbox_enabled:
        return None
    return f"{settings.sandbox_url.rstrip('/')}/{path}"


def sandbox_stand_in(lacks_credentials: Callable[[S], bool]) -> StandIn[S]:
    """The sandbox, needed in development while the provider declaring it `lacks_credentials` (each provider it
    stands in for declares it: it runs once, under its name)."""

    def needed(settings: S) -> bool:
        return not settings.is_production and settings.sandbox_enabled and lacks_credentials(settings)

    return StandIn("sandbox", "payments.sandbox", needed,
                   address=lambda settings: listen_address(settings.sandbox_url, DEFAULT_PORT),
                   announce=lambda settings: f"  pay sandbox   {settings.sandbox_url}/  (MTN + Orange + Airtel + "
                                             "M-Pesa; payer numbers ending 450-459 fail or stall: GET / lists them)")
