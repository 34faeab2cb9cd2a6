"""A provider's HTTP answer, read defensively: a proxy's HTML page, a cut-off body or JSON that is
not an object is an outage to retry later, never a verdict and never a crash."""

from __future__ import annotations

from typing import Any

import httpx

from payments.base import PaymentError


def json_object(provider: str, response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or a retryable PaymentError."""
    try:
        data = response.json()
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise PaymentError(provider, "unreadable_answer", f"{provider} answered {response.status_code} with no JSON "
                           "object.", retryable=True, status=response.status_code)
    return data


def json_object_or_empty(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or {} (for error bodies, which explain at best)."""
    try:
        return json_object("", response)
    except PaymentError:
        return {}
