"""Telegram Stars: votes sold in the bot, paid in the chat."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from payments.stars.invoice import StarsInvoices
    from payments.stars.listing import StarPayment

__all__ = ["StarPayment", "StarsInvoices"]
_MODULE_OF = {"StarsInvoices": "invoice", "StarPayment": "listing"}


def __getattr__(name: str) -> object:
    """Each class imported when first named: the settings import this package, and need none of its code."""
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
