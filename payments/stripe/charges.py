"""Stripe's own books: its balance transactions of type `charge`, each the payment as charged (not as settled into
the account's currency), ours when the metadata we gave the payment intent names an order."""

from __future__ import annotations

import uuid
from typing import Any

from gateway.core.providers import ProviderCharge


def charge_of(line: dict[str, Any]) -> ProviderCharge:
    """A balance transaction (its `source` expanded) as the charge it records."""
    source: dict[str, Any] = line["source"] if isinstance(line.get("source"), dict) else {}
    metadata = source.get("metadata") or {}
    try:
        order_id: uuid.UUID | None = uuid.UUID(str(metadata.get("order_id")))
    except ValueError:
        order_id = None
    currency = source.get("currency") or line.get("currency") or ""
    return ProviderCharge(str(source.get("id") or line.get("id")), order_id,
                          int(source.get("amount") or line.get("amount") or 0), str(currency).upper())
