"""Text as PostgreSQL can keep it. Inbound callbacks and forms are kept raw, but `text` and `jsonb`
refuse the NUL character, and asyncpg cannot encode the lone surrogates Python makes of header
bytes that are not UTF-8: either would turn a hostile request into a 500 instead of a kept event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REPLACEMENT = "\ufffd"


def storable(text: str) -> str:
    """`text` with NUL and anything not encodable as UTF-8 replaced by U+FFFD."""
    if text.isascii() and "\x00" not in text:
        return text  # the usual case, at no cost
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace").replace("\x00", REPLACEMENT)


def is_storable(text: str) -> bool:
    """Whether PostgreSQL keeps `text` exactly as given: what a person types is refused otherwise, not
    silently changed (gateway.core.entered_text)."""
    return storable(text) == text


def storable_strings(values: Mapping[str, str]) -> dict[str, str]:
    return {storable(key): storable(value) for key, value in values.items()}


def storable_json(value: Any) -> Any:
    """A parsed JSON document with every string (keys too) storable: jsonb refuses `\\u0000` and lone
    surrogates as `text` does. Kept rather than refused, for senders that re-send whatever is refused."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(key)): storable_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable_json(item) for item in value]
    return value
