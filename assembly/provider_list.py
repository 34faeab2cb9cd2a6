"""Every payment provider the service runs, in the order payers are offered them. A new provider is one line here
(and its folder, payments/<name>/, with a `provider.py` building its `ProviderParts`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway.core.channel_settings import ChannelContestSettings
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


# The providers' own migration branches and settings of a contest (M-Pesa's paybill), migrated, drawn and kept as the
# channels' are (assembly.channel_list takes them in with the channels').
PROVIDER_MIGRATIONS: tuple[Path, ...] = tuple(parts.migrations for parts in PROVIDERS if parts.migrations is not None)
PROVIDER_CONTEST_SETTINGS: tuple[ChannelContestSettings, ...] = tuple(
    parts.contest_settings for parts in PROVIDERS if parts.contest_settings is not None)
