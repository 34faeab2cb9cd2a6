"""The assembly's own app keys: what only its modules (health, middleware, app) read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from assembly.web.metrics import Metrics
from assembly.web.metrics_access import MetricsAccess
from gateway.kit.provider_parts import ProviderParts

METRICS = web.AppKey("metrics", Metrics)
METRICS_ACCESS = web.AppKey("metrics_access", MetricsAccess)
# The providers this app runs (`assembly/provider_list.py`'s, unless `create_app` was handed others).
PROVIDER_LIST: web.AppKey[Sequence[ProviderParts[Any]]] = web.AppKey("provider_list")
