"""Prometheus' own alerts, for the control room where PROMETHEUS_URL names the server that pages: every alerting
rule it evaluates (`GET /api/v1/rules?type=alert`), quiet or not, and each of its pending and firing alerts with
its labels (the provider, the contest, the pass): literally what pages, resolved when Prometheus resolves it.

Asked with the process's shared HTTP client, briefly: a page waits on it. A Prometheus that does not answer, or
answers something else, is `PrometheusUnavailable`, which the room says beside its own in-process picture.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from admin.alert_states import INACTIVE, Alert

ASK_SECONDS = 2.0
# The labels every alert of a rule carries alike: the page shows the ones that tell alerts apart.
SHARED_LABELS = frozenset({"alertname", "severity", "slo"})


class PrometheusUnavailable(Exception):
    """Prometheus did not answer, or not as its API does; the message says what happened."""


def _value(text: str) -> str:
    try:
        return f"{float(text):.4g}"
    except ValueError:
        return text


def _alert(name: str, found: dict[str, Any], now: datetime) -> Alert:
    labels = {k: str(v) for k, v in sorted(found.get("labels", {}).items()) if k not in SHARED_LABELS}
    active_for = max((now - _parsed(str(found["activeAt"]))).total_seconds(), 0.0)
    return Alert(name, str(found["state"]), _value(str(found.get("value", ""))), labels, active_for)


def _parsed(stamp: str) -> datetime:
    """Prometheus' RFC 3339 time, nanoseconds and all ("2026-11-27T14:07:06.478004693Z")."""
    head, _, rest = stamp.removesuffix("Z").partition(".")
    fraction = "".join(c for c in rest if c.isdigit())[:6]
    return datetime.fromisoformat(f"{head}.{fraction or '0'}+00:00")


def read_rules(body: Any, now: datetime) -> list[Alert]:
    """The alerts of an answer of /api/v1/rules: each active one, and each rule with none as one quiet line."""
    if not isinstance(body, dict) or body.get("status") != "success":
        raise PrometheusUnavailable(f"it answered {str(body)[:120]}")
    found: list[Alert] = []
    try:
        for group in body["data"]["groups"]:
            for rule in group["rules"]:
                if rule.get("type") != "alerting":
                    continue
                active = [_alert(rule["name"], alert, now) for alert in rule.get("alerts") or []]
                found += active or [Alert(rule["name"], INACTIVE, "")]
    except (KeyError, TypeError, ValueError) as exc:
        raise PrometheusUnavailable(f"its answer is not Prometheus' rules: {exc!r}") from exc
    return found


async def prometheus_alerts(http: httpx.AsyncClient, base_url: str, now: datetime) -> list[Alert]:
    """Prometheus' alerting rules and their alerts as of `now` (UTC). Raises PrometheusUnavailable."""
    try:
        response = await http.get(f"{base_url.rstrip('/')}/api/v1/rules", params={"type": "alert"},
                                  timeout=ASK_SECONDS)
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise PrometheusUnavailable(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code != 200:
        raise PrometheusUnavailable(f"HTTP {response.status_code}")
    return read_rules(body, now)
