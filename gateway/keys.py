"""Every typed key of the app's shared state, in one place.

Every layer imports these keys, so the project's own classes they hold are imported for type checking
only: reading a key must not pull the layer that fills it (providers, leaderboard, background work)
into the reader's imports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import httpx
import jinja2
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from redis.asyncio import Redis
from rq import Queue
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.config import Settings
from gateway.core.providers import Providers
from gateway.db.engine import Sessions

if TYPE_CHECKING:
    from gateway.jobs.payment_checks import PaymentChecks
    from gateway.jobs.payment_starts import PaymentStarts
    from gateway.jobs.relay import RelayLoop
    from gateway.metrics import Metrics
    from gateway.metrics_access import MetricsAccess
    from leaderboard.boards import Boards
    from leaderboard.config import StreamConfig
    from leaderboard.hub import Hub

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", Sessions)
REDIS = web.AppKey("redis", Redis)
HTTP = web.AppKey("http", httpx.AsyncClient)
QUEUE = web.AppKey("queue", Queue)
RELAY: web.AppKey[RelayLoop] = web.AppKey("relay")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
PROVIDERS: web.AppKey[Providers] = web.AppKey("providers")  # the core's view of payments.registry
CHECKS: web.AppKey[PaymentChecks] = web.AppKey("checks")
STARTS: web.AppKey[PaymentStarts] = web.AppKey("starts")
LEADERBOARD_CONFIG: web.AppKey[StreamConfig] = web.AppKey("leaderboard_config")
LEADERBOARD_BOARDS: web.AppKey[Boards] = web.AppKey("leaderboard_boards")
LEADERBOARD_HUB: web.AppKey[Hub] = web.AppKey("leaderboard_hub")
USSD_HOPS = web.AppKey("ussd_hops", asyncio.Semaphore)  # USSD hops in flight per process
# The one thread that decodes uploaded photos in a web process (admin.photos): one decode at a time.
PHOTO_DECODER = web.AppKey("photo_decoder", ThreadPoolExecutor)
STARTED_AT = web.AppKey("started_at", float)  # time.monotonic() when the app was built
METRICS_ACCESS: web.AppKey[MetricsAccess] = web.AppKey("metrics_access")
RESULTS_KEY = web.AppKey("results_key", Ed25519PrivateKey)  # signs results sheets (gateway.results_key)
# Admin area: its own template environment, apart from the public pages'.
ADMIN_TEMPLATES = web.AppKey("admin_templates", jinja2.Environment)
# The one exception to the 64 KB body cap and the refusal of multipart (gateway/middleware.py): a
# signed-in upload to a route the gate names. It answers the size allowed for the request, or None.
UPLOAD_GATE: web.AppKey[Callable[[web.Request], Awaitable[int | None]]] = web.AppKey("upload_gate")
