"""The web process's own app keys: what only the assembly's web modules (app, health, middleware) read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from assembly.web.metrics import Metrics
from assembly.web.metrics_access import MetricsAccess
from gateway.kit.provider_parts import ProviderParts

if TYPE_CHECKING:
    from gateway.core.money_in.start_queue import PaymentStarts

METRICS = web.AppKey("metrics", Metrics)
METRICS_ACCESS = web.AppKey("metrics_access", MetricsAccess)
# The providers this app runs (`assembly/provider_list.py`'s, unless `create_app` was handed others).
PROVIDER_LIST: web.AppKey[Sequence[ProviderParts[Any]]] = web.AppKey("provider_list")
ENGINE = web.AppKey("engine", AsyncEngine)
STARTS: web.AppKey[PaymentStarts] = web.AppKey("starts")
STARTED_AT = web.AppKey("started_at", float)  # time.monotonic() when the app was built
