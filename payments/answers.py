"""A provider's HTTP answer or callback, read defensively: a proxy's HTML page, a cut-off body or
JSON that is not an object is an outage to retry later (or a callback that proves nothing), never a
verdict and never a crash."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from gateway.core.providers import PaymentError


def parsed_object(body: bytes) -> dict[str, Any] | None:
    """A callback's or an answer's JSON object; None for anything else (not JSON, not UTF-8, too deep)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def text_of(value: object) -> str | None:
    """A field we keep as text (a transaction id, a reason), whatever JSON type the provider sent it as."""
    return None if value is None or value == "" else str(value)


def required_text(provider: str, data: Mapping[str, Any], *names: str) -> tuple[str, ...]:
    """The named fields of an answer as text; an answer without one of them is an outage to retry."""
    values = [text_of(data.get(name)) for name in names]
    present = tuple(value for value in values if value is not None)
    if len(present) < len(names):
        missing = [name for name, value in zip(names, values, strict=True) if value is None]
        raise PaymentError(provider, "unreadable_answer", f"{provider}'s answer lacks {', '.join(missing)}.",
                           retryable=True)
    return present


def json_object(provider: str, response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or a retryable PaymentError."""
    data = parsed_object(response.content)
    if data is None:
        raise PaymentError(provider, "unreadable_answer", f"{provider} answered {response.status_code} with no JSON "
                           "object.", retryable=True, status=response.status_code)
    return data


def json_object_or_empty(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or {} (for error bodies, which explain at best)."""
    try:
        return json_object("", response)
    except PaymentError:
        return {}
