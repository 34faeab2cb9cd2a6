"""MTN MoMo Open API, Collection product."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from payments.mtn.collection import MtnMomoCollection

__all__ = ["MtnMomoCollection"]


def __getattr__(name: str) -> object:
    """The collection imported when first named: the settings import this package, and need none of its code."""
    if name == "MtnMomoCollection":
        return importlib.import_module("payments.mtn.collection").MtnMomoCollection
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
