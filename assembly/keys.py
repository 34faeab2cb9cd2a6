"""The assembly's own app keys: what only its modules (health, middleware, app) read."""

from __future__ import annotations

from aiohttp import web

from assembly.metrics import Metrics
from assembly.metrics_access import MetricsAccess

METRICS = web.AppKey("metrics", Metrics)
METRICS_ACCESS = web.AppKey("metrics_access", MetricsAccess)
