"""The admin JSON API's own OpenAPI document (GET /api/v1/admin/openapi.json). The public document
(channels/web/openapi.py) belongs to the web channel, which the admin area may not import; a tool
reads both. Paths are generated from the routes, so none goes undocumented."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from admin.api import PREFIX

SUMMARIES = {
    "/token": "Sign in (email, password, code): an access and a refresh token",
    "/token/refresh": "A new pair for a refresh token (each is used once)",
    "/signout": "End this session",
    "/contests": "Contests (GET: those you may see; POST: create a draft)",
    "/contests/{contest_id}": "A contest with its candidates and votes (PUT: change it)",
    "/contests/{contest_id}/{action}": "Open, pause or close a contest (action: open|pause|close)",
    "/contests/{contest_id}/candidates": "Add a candidate (name, code?, bio?)",
    "/contests/{contest_id}/candidates/import": "Import candidates from CSV text (csv): all or nothing",
    "/candidates/{candidate_id}": "Edit a candidate (name, bio) or its status (active|eliminated|hidden)",
    "/candidates/{candidate_id}/photo": "Upload a photo: the image bytes as the body (JPEG, PNG, WebP; 5 MB)",
    "/orders": "Search orders (msisdn, reference, status, candidate, channel, provider, since, until)",
    "/orders/{order_id}": "An order with its provider events, messages and audit entries",
    "/orders/{order_id}/resend": "Queue an order's receipt again",
    "/review": "The orders waiting for a person, with the decisions each allows",
    "/review/{order_id}": "Decide one (kind, decision, reason)",
    "/audit": "The audit trail, newest first (actor, action prefix, target, limit)",
    "/openapi.json": "This document",
    "/contests/{contest_id}/dashboard": "A contest's dashboard figures: votes and revenue by hour, channel, provider "
                                        "and operator, payment outcomes, queues, the tally invariant per candidate",
    "/contests/{contest_id}/exports/{kind}.{fmt}": "Export orders, tallies or the audit log (kind) as csv or xlsx "
                                                   "(fmt), from/to ISO dates; auditors and owners; audited",
    "/accounts/{admin_id}/{action}": "An owner disables (ending its sessions) or enables an account",
}


def document(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        canonical = route.resource.canonical if route.resource is not None else ""
        if not canonical.startswith(PREFIX) or route.method == "HEAD":
            continue
        path = canonical.removeprefix(PREFIX)
        operation: dict[str, Any] = {"summary": SUMMARIES.get(path, path), "responses": {
            "200": {"description": "OK"}, "401": {"description": "Sign in first"},
            "403": {"description": "Not for your role"}}}
        if path not in ("/token", "/token/refresh", "/openapi.json"):
            operation["security"] = [{"bearer": []}]
        paths.setdefault(canonical, {})[route.method.lower()] = operation
    return {"openapi": "3.1.0", "info": {"title": "Ballot admin API", "version": "1"}, "paths": paths,
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}}}


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(document(request.app))


def setup(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/openapi.json", openapi_json)
