"""Every typed key of the app's shared state, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from aiohttp import web
from redis.asyncio import Redis
from rq import Queue
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.config import Settings

if TYPE_CHECKING:
    pass

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
REDIS = web.AppKey("redis", Redis)
HTTP = web.AppKey("http", httpx.AsyncClient)
QUEUE = web.AppKey("queue", Queue)
RELAY = web.AppKey("relay", "RelayLoop")
METRICS = web.AppKey("metrics", "Metrics")
PROVIDERS = web.AppKey("providers", "ProviderRegistry")
CHECKS = web.AppKey("checks", "PaymentChecks")
STARTS = web.AppKey("starts", "PaymentStarts")
LEADERBOARD_CONFIG = web.AppKey("leaderboard_config", "StreamConfig")
LEADERBOARD_BOARDS = web.AppKey("leaderboard_boards", "Boards")
LEADERBOARD_HUB = web.AppKey("leaderboard_hub", "Hub")
USSD_HOPS = web.AppKey("ussd_hops", "Semaphore")  # USSD hops in flight per process
STARTED_AT = web.AppKey("started_at", float)  # time.monotonic() when the app was built
METRICS_ACCESS = web.AppKey("metrics_access", "MetricsAccess")
