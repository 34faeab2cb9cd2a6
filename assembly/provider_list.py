"""Every payment provider the service runs, in the order payers are offered them. A new provider is one line here
(and its folder, payments/<name>/, with a `provider.py` building its `ProviderParts`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.kit.provider_parts import ProviderParts
from payments.airtel.provider import AIRTEL
from payments.mpesa.provider import MPESA
from payments.mtn.provider import MTN
from payments.orange.provider import ORANGE
from payments.stars.provider import STARS
from payments.stripe.provider import STRIPE

PROVIDERS: tuple[ProviderParts[Any], ...] = (MTN, ORANGE, AIRTEL, MPESA, STRIPE, STARS)


def provider(name: str, providers: Sequence[ProviderParts[Any]] = PROVIDERS) -> ProviderParts[Any]:
    """A provider by name; KeyError names an unknown one."""
    for parts in providers:
        if parts.name == name:
            return parts
    raise KeyError(f"no provider named {name!r}")
