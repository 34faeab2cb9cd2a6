"""The web process (`gateway web`): the aiohttp application and what it serves beside the packages' routes.

The app factory (app.py: the resources in cleanup contexts, then each package's routes), liveness and readiness
(health.py), the middleware (request ids and metrics, domain errors as JSON, the body cap), /metrics (metrics.py, who
may read it: metrics_access.py, the figures read at scrape time: scrape_figures.py), the watch of the event loop
(loop_watch.py) and the web process's own app keys (keys.py)."""
