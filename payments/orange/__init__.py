"""Orange Money: WebPay (a payment page, for web and Telegram voters) and the Cameroon merchant
payment API (a USSD push prompt, for USSD and SMS voters), two providers behind one interface."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from payments.orange.push import OrangePush, PushCredentials
    from payments.orange.webpay import OrangeWebPay, WebPayCredentials

__all__ = ["OrangePush", "OrangeWebPay", "PushCredentials", "WebPayCredentials"]
_MODULE_OF = {"OrangePush": "push", "PushCredentials": "push", "OrangeWebPay": "webpay",
              "WebPayCredentials": "webpay"}


def __getattr__(name: str) -> object:
    """Each provider imported when first named: the settings import this package, and need none of its code."""
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
