"""The one HTTP client a process shares for the providers, the media storage and the texts: httpx's API, sending
through aiohttp's connection pool (`httpx-aiohttp`). httpcore's pool costs ~0.9 ms of CPU a request with 16 in
flight against aiohttp's ~0.06 ms (bench.floor), and a vote makes one such request.

Every failure of the exchange reaches the callers as an `httpx.TransportError`, which is what they catch to retry
with the same reference: the package maps aiohttp's usual errors, this maps the rest (a malformed answer), and
names a connection the server dropped after the request and a connection refused as httpx does
(`RemoteProtocolError` and `ConnectError`, where the package says `ConnectTimeout` for both: a dropped request may
well have been taken)."""

from __future__ import annotations

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

PROVIDER_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class ProviderTransport(AiohttpTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.TransportError as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ServerDisconnectedError):
                raise httpx.RemoteProtocolError(f"Server disconnected: {exc}", request=request) from cause
            if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(exc, httpx.ConnectError):
                raise httpx.ConnectError(str(exc), request=request) from cause  # refused, not timed out
            raise
        except aiohttp.ClientError as exc:  # what the package leaves unmapped: the answer could not be read
            raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}", request=request) from exc
        except TimeoutError as exc:  # a time-out aiohttp raised as the builtin one
            raise httpx.TimeoutException(f"timed out: {exc}", request=request) from exc


def provider_http_client(timeout: httpx.Timeout | float = PROVIDER_TIMEOUT) -> httpx.AsyncClient:
    """Short time-outs; retries are each caller's to decide (with the same reference)."""
    return httpx.AsyncClient(transport=ProviderTransport(), timeout=timeout)
