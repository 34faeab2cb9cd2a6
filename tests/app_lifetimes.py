"""A test's apps end with it. aiohttp keeps, process-wide, each handler's middleware chain built for the apps that
served it (`aiohttp.web_app._cached_build_middleware`, an LRU of 1,024 keyed on the apps): made for a process that
serves one app for its life, it keeps alive every app a test process builds and serves, and with each its routes,
bot, metrics registry and pools. Tests build hundreds: each worker's full collections then walked them all (0.5-1 s
each by the end of a run, 14-26 s a worker), and once the LRU was full it let an old app go at a moment unrelated to
the test that made it, so a socket that app still held would be reported in some later test.
Home Assistant's supervisor clears the same cache after each test (home-assistant/supervisor#7196)."""

from __future__ import annotations

from aiohttp import web_app


def forget_served_apps() -> None:
    """Drop aiohttp's middleware chains built so far: the next request of a live app builds its own again."""
    cached = getattr(web_app, "_cached_build_middleware", None)  # private to aiohttp: absent, nothing is kept
    if cached is not None:
        cached.cache_clear()
