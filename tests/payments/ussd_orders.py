"""An order as a provider is asked to collect it: five votes dialled by USSD, in the provider's country."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from gateway.core.providers import Collection


def ussd_collection(changes: Mapping[str, object], *, amount: int, currency: str, msisdn: str) -> Collection:
    """A fresh order (its own ids) of `amount` minor units; `changes` set any field."""
    values: dict[str, object] = {
        "order_id": uuid.uuid4(), "reference": uuid.uuid4(), "amount": amount, "currency": currency,
        "msisdn": msisdn, "description": "5 votes for Grace Ndongo - Demo Star 2026", "channel": "ussd",
    }
    values.update(changes)
    return Collection(**values)  # type: ignore[arg-type]
