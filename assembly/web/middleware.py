"""Each request's CPU by part, request ids, request metrics, and the one place domain errors become JSON HTTP
answers."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aiohttp.web_urldispatcher import AbstractResource
from sqlalchemy.exc import DBAPIError

from assembly.cpu.accounts import SPENT, Accounted, CpuAccounts, Spent
from assembly.cpu.parts import OTHER, part_of_module
from assembly.logs import request_id
from assembly.web.keys import METRICS
from gateway.core.errors import DomainError
from gateway.db.failover import PrimaryUnavailable, primary_lost
from gateway.kit.answers import error_body
from gateway.kit.keys import SETTINGS

log = logging.getLogger(__name__)

RETRY_AFTER_FAILOVER_SECONDS = 5  # a failover's votes wait about this long for the new primary (Patroni's ttl 30 s)


def cpu_by_part(accounts: CpuAccounts) -> Middleware:
    """Each request's CPU, handler and the middlewares after this one, accounted to its route's part
    (assembly.cpu.accounts: step by step, so concurrent requests are never mixed up), and the tasks it creates too."""
    parts: dict[AbstractResource | None, Spent] = {}
    other = accounts.part(OTHER)

    @web.middleware
    async def cpu_of_request(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource  # None: no route matched (404, 405)
        spent = other if resource is None else parts.get(resource)
        if spent is None:
            spent = accounts.part(part_of_module(module_of(request.match_info.handler)) or OTHER)
            parts[resource] = spent
        token = SPENT.set(spent)
        try:
            return await Accounted(handler(request), spent)
        finally:
            SPENT.reset(token)

    return cpu_of_request


def module_of(handler: object) -> str:
    while isinstance(handler, functools.partial):
        handler = handler.func
    return str(getattr(handler, "__module__", ""))


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tag the request (and its log lines) with an id, and count it by route and status."""
    rid = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    token = request_id.set(rid[:64])
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = rid[:64]
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = request.match_info.route.resource
        name = route.canonical if route is not None else "unmatched"
        request.app[METRICS].observe_request(request.method, name, status, time.perf_counter() - started)
        request_id.reset(token)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Domain errors and HTTP errors as `{"error": {"code", "message"}}`; never a bare 500 page."""
    if "\x00" in request.path or "\x00" in request.query_string:  # names nothing here; PostgreSQL refuses it
        return error_body(400, "invalid_request", "The address holds a NUL character.")
    try:
        return await handler(request)
    except DomainError as exc:
        return web.json_response(exc.as_json(), status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        code = exc.reason.lower().replace(" ", "_")
        response = error_body(exc.status, code, exc.text or exc.reason)
        for header in ("Allow", "Retry-After"):
            if header in exc.headers:
                response.headers[header] = exc.headers[header]
        return response
    except asyncio.CancelledError:  # a server with handler_cancellation stops the handler of a client that left
        if client_gone(request):
            log.info("client went away during %s %s", request.method, request.path)
        raise
    except Exception as exc:
        if isinstance(exc, ConnectionResetError) and client_gone(request):  # aiohttp's ClientConnectionResetError too
            log.info("client went away during %s %s", request.method, request.path)
            return error_body(499, "client_closed_request", "The client closed the connection.")  # for the metrics
        if database_changing_over(exc):
            return primary_away(request, exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_body(500, "internal_error", "Something went wrong on our side; nothing was charged twice.")


def database_changing_over(exc: Exception) -> bool:
    """Whether the request failed because PostgreSQL's primary is away (a failover under way, or the server down):
    a database error of that kind, no primary within the wait, or no connection made at all (an HTTP client's own
    connection errors are OSErrors too, and are not this)."""
    if isinstance(exc, PrimaryUnavailable):
        return True
    if isinstance(exc, DBAPIError):
        return primary_lost(exc)
    return isinstance(exc, OSError) and not isinstance(exc, aiohttp.ClientError) and primary_lost(exc)


def primary_away(request: web.Request, exc: Exception) -> web.Response:
    """503 with Retry-After: a provider sends its callback again, a client its vote (with the same Idempotency-Key a
    vote is never placed twice); the reconciler's passes pick up whatever was in flight."""
    log.warning("PostgreSQL's primary is away during %s %s: answered 503 (%s: %s)", request.method, request.path,
                type(exc).__name__, exc)
    response = error_body(503, "database_unavailable", "Our database is changing over to its standby. Try again in "
                          "a few seconds: a vote sent again with the same Idempotency-Key is never placed twice.")
    response.headers["Retry-After"] = str(RETRY_AFTER_FAILOVER_SECONDS)
    return response


def client_gone(request: web.Request) -> bool:
    """Whether the client hung up: a reset from anything else (a database, a provider) is an error."""
    transport = request.transport
    return transport is None or transport.is_closing()


@web.middleware
async def body_deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read a request's whole body within REQUEST_BODY_SECONDS, before its handler runs: a client
    that dribbles it (a slow-body attack) is answered 408 and cut off instead of holding a
    connection and a handler for good. aiohttp keeps what it read, so read(), post() and json() in
    the handler reuse it. A request without a body is untouched: the live board's stream is a
    long GET without one. Multipart bodies could not be read twice, and no route takes them: 415.
    """
    if not request.body_exists or request.match_info.http_exception is not None:
        return await handler(request)
    seconds = request.app[SETTINGS].request_body_seconds
    if request.content_type == "multipart/form-data":
        return error_body(415, "unsupported_media_type", "Send forms url-encoded and data as JSON.")
    try:
        async with asyncio.timeout(seconds):
            await request.read()
    except TimeoutError:
        log.info("body of %s %s not received within %g s; connection closed", request.method, request.path, seconds)
        response = error_body(408, "body_timeout", f"The request body did not arrive within {seconds:g} s.")
        response.force_close()
        await response.prepare(request)
        await response.write_eof()
        request.protocol.force_close()  # now (after the answer is flushed), not after reading the rest for a while
        return response
    return await handler(request)
