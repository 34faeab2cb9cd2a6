"""What the texts of a part of the pages ask of the reader's language: a text by its key, a number of votes, a sum of
money, a provider's name. `i18n.Translator` is one; the modules whose texts the catalog takes in (bundle_texts.py,
market_texts.py) ask for this, so the catalog imports them and they import nothing of it."""

from __future__ import annotations

from typing import Protocol

from gateway.core.providers import Providers


class Words(Protocol):
    def __call__(self, key: str, /, **values: object) -> str: ...

    def votes(self, n: int) -> str: ...

    def money(self, amount: int, currency: str) -> str: ...

    def provider(self, provider: str, providers: Providers) -> str: ...
