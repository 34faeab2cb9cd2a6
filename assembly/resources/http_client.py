"""The one HTTP client a process shares for the providers, the media storage and the texts: httpx's API, sending
through aiohttp's connection pool (`httpx-aiohttp`). httpcore's pool costs ~0.9 ms of CPU a request with 16 in
flight against aiohttp's ~0.06 ms (bench.floor), and a vote makes one such request.

Every failure of the exchange reaches the callers as an `httpx.TransportError`, which is what they catch to retry
with the same reference, named as httpx's own transport names it: the package maps aiohttp's usual errors, this
maps the rest (a malformed answer), and names a connection the server dropped after the request or in the middle of
the answer's body, and a connection refused, as httpx does (`RemoteProtocolError` and `ConnectError`, where the
package says `ConnectTimeout` for a drop and a refusal alike, and `ReadError` for a body cut short: a dropped
request may well have been taken).

Proxies come from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), read once when the client is
made, as httpx reads them for its own transport (it does not for a transport given to it): a host that reaches the
providers only through a proxy goes on reaching them. Not aiohttp's `trust_env`, which looks them up, and ~/.netrc,
in a thread for every request (18% of a web process's CPU under load, seen with py-spy)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import httpx
from httpx._utils import get_environment_proxies  # httpx's own reading of the variables, pinned in the lock
from httpx_aiohttp import AiohttpTransport

from gateway.kit.outbound_tls import verified_tls
from gateway.kit.service_levels import READ_REFUSALS, call_outcome
from payments.answers import json_object_or_empty

PROVIDER_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


@contextlib.contextmanager
def named_as_httpx(request: httpx.Request, *, reading_body: bool = False) -> Iterator[None]:
    try:
        yield
    except httpx.TransportError as exc:
        cause = exc.__cause__
        if isinstance(cause, aiohttp.ClientPayloadError):  # closed or reset mid-body: aiohttp tells them apart not
            raise httpx.RemoteProtocolError(f"The answer was cut short: {exc}", request=request) from cause
        if isinstance(cause, aiohttp.ServerDisconnectedError):
            raise httpx.RemoteProtocolError(f"Server disconnected: {exc}", request=request) from cause
        if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(exc, httpx.ConnectError):
            raise httpx.ConnectError(str(exc), request=request) from cause  # refused, not timed out
        if reading_body and isinstance(exc, httpx.ConnectTimeout):  # connected long since: the answer was cut
            raise httpx.ReadError(str(exc), request=request) from cause
        raise
    except aiohttp.ClientError as exc:  # what the package leaves unmapped: the answer could not be read
        raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}", request=request) from exc
    except TimeoutError as exc:  # a time-out aiohttp raised as the builtin one
        raise httpx.TimeoutException(f"timed out: {exc}", request=request) from exc


class MappedBody(httpx.AsyncByteStream):
    """The answer's body as the package streams it, its errors named as above."""

    def __init__(self, stream: httpx.AsyncByteStream, request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with named_as_httpx(self._request, reading_body=True):
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        with named_as_httpx(self._request, reading_body=True):
            await self._stream.aclose()


CallNote = Callable[[httpx.Request, str], None]  # a request and how it was answered (`CALL_OUTCOMES`)


class ProviderTransport(AiohttpTransport):
    def __init__(self, *, proxy: httpx.Proxy | None = None, note: CallNote | None = None) -> None:
        super().__init__(verify=verified_tls(), proxy=proxy)
        self._note = note

    def get_client(self) -> aiohttp.ClientSession:
        """aiohttp's session as the package makes it, but keeping no cookies (`CookielessClient`): aiohttp has a jar of
        its own under httpx's."""
        connector = aiohttp.TCPConnector(keepalive_timeout=self.limits.keepalive_expiry, ssl=self.ssl_context,
                                         limit=self.limits.max_connections or 0)  # httpx's None, aiohttp's 0: no cap
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            with named_as_httpx(request):
                response = await super().handle_async_request(request)
        except httpx.TimeoutException:
            self._noted(request, "timeout")
            raise
        except httpx.TransportError:
            self._noted(request, "unreachable")
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        if response.status_code in READ_REFUSALS:
            return await self._read_refusal(request, response)
        self._noted(request, call_outcome(response.status_code))
        response.stream = MappedBody(response.stream, request)
        return response

    async def _read_refusal(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        """A refusal whose body tells what it is (`READ_REFUSALS`: small error bodies), read here to count it, and
        handed on as it came."""
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        with named_as_httpx(request, reading_body=True):
            try:
                raw = b"".join([chunk async for chunk in stream])
            finally:
                await stream.aclose()
        response.stream = httpx.ByteStream(raw)
        try:  # decoded as the caller will decode it
            code = json_object_or_empty(httpx.Response(response.status_code, headers=response.headers,
                                                       content=raw)).get("code")
        except httpx.DecodingError:
            code = None
        self._noted(request, call_outcome(response.status_code, code))
        return response

    def _noted(self, request: httpx.Request, outcome: str) -> None:
        if self._note is not None:
            self._note(request, outcome)


class KeptNone(httpx.Cookies):
    """A cookie jar that keeps nothing an answer sets."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class CookielessClient(httpx.AsyncClient):
    """httpx's client keeping no cookies between requests (nor does aiohttp's session under it, `ProviderTransport`):
    the providers are called with their own credentials, never a session of cookies, and one client serves them all.
    httpx would otherwise look for cookies in every answer through urllib's request and response objects, made afresh
    each time: ~0.1 ms of CPU a request, a sixth of its cost (bench.floor's "providers' client"). An answer's own
    `response.cookies` are as httpx has them."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._kept_none = KeptNone()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._kept_none

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        raise AttributeError("this client keeps no cookies: give a request its own")


def provider_http_client(timeout: httpx.Timeout | float = PROVIDER_TIMEOUT, note: CallNote | None = None
                         ) -> httpx.AsyncClient:
    """Short time-outs; retries are each caller's to decide (with the same reference). `note`: told how each
    request was answered (the web process's provider figures, `assembly.resources.provider_calls`)."""
    proxied: dict[str, httpx.AsyncBaseTransport | None] = {
        pattern: ProviderTransport(proxy=httpx.Proxy(url), note=note) if url else None  # None: straight, by the default
        for pattern, url in get_environment_proxies().items()
        if url is None or url.startswith(("http://", "https://"))}  # aiohttp speaks no SOCKS: straight, as before
    # `verify`: for the transports httpx makes of the proxy variables itself before `mounts` replaces them.
    return CookielessClient(transport=ProviderTransport(note=note), mounts=proxied, timeout=timeout,
                            verify=verified_tls())
