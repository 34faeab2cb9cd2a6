"""The providers' HTTP client (httpx over aiohttp's pool): whatever goes wrong on the wire reaches the providers'
code as an httpx.TransportError, which it retries with the same reference, never as an aiohttp error that would
end a payment's start or a refund's pass in a crash. Against a local server that misbehaves as networks do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from assembly.resources.http_client import provider_http_client
from gateway.core.providers import PaymentError
from payments.mtn import MtnMomoCollection
from payments.mtn.api import MtnCredentials

ANSWERS = {
    "drop": b"",  # the request read, the connection closed without a word
    "garble": b"garbage\r\n\r\n",  # not HTTP
    "cut": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"sta",  # cut short
}
TOKEN = b'{"access_token": "t", "token_type": "access_token", "expires_in": 3600}'
ANSWERS["token"] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(TOKEN), TOKEN)


asked: list[str] = []


@pytest.fixture
async def misbehaving() -> AsyncIterator[str]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ", 2)[1].decode()
        asked.append(path)
        writer.write(ANSWERS["token" if path.endswith("/token/") else path.strip("/").split("/")[0]])
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()


async def test_each_fault_of_the_wire_is_an_httpx_transport_error(misbehaving: str) -> None:
    async with provider_http_client(httpx.Timeout(2.0)) as http:
        with pytest.raises(httpx.RemoteProtocolError):  # may have been taken: not a connect error
            await http.get(f"{misbehaving}/drop")
        with pytest.raises(httpx.RemoteProtocolError):  # aiohttp raises its own error, the package lets it through
            await http.get(f"{misbehaving}/garble")
        with pytest.raises(httpx.RemoteProtocolError):  # the body cut short: httpx's name, not the package's
            await http.get(f"{misbehaving}/cut")
        with pytest.raises(httpx.ConnectError):  # refused: nothing was sent
            await http.get("http://127.0.0.1:9/refused")


async def test_a_garbled_answer_to_mtn_is_a_retryable_payment_error(misbehaving: str) -> None:
    async with provider_http_client(httpx.Timeout(2.0)) as http:
        mtn = MtnMomoCollection(http, MtnCredentials(f"{misbehaving}/garble", "key", "user", "secret", "sandbox"),
                                "http://127.0.0.1", retry_delays=())
        with pytest.raises(PaymentError) as raised:
            await mtn.balance("XAF")
    assert raised.value.retryable and raised.value.code == "unreachable"
    assert asked[-2:] == ["/garble/collection/token/", "/garble/collection/v1_0/account/balance?currency=XAF"]


async def test_requests_go_through_the_proxy_the_environment_names_but_where_it_says_not_to(
    misbehaving: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As httpx's own transport does: a host that reaches the providers only through a proxy keeps reaching them."""
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append((await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")[0])
        writer.write(ANSWERS["token"])
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    try:
        async with provider_http_client(httpx.Timeout(2.0)) as http:
            answer = await http.get("http://sandbox.momodeveloper.mtn.com/collection/token/")
            assert answer.json()["access_token"] == "t"
            with pytest.raises(httpx.RemoteProtocolError):  # straight to the server, as NO_PROXY says
                await http.get(f"{misbehaving}/drop")
    finally:
        server.close()
    assert seen == [b"GET http://sandbox.momodeveloper.mtn.com/collection/token/ HTTP/1.1"]


async def test_a_socks_proxy_which_aiohttp_cannot_speak_is_not_taken(misbehaving: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """As before proxies were read at all: the requests go straight, rather than failing every payment."""
    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:9")
    async with provider_http_client(httpx.Timeout(2.0)) as http:
        answer = await http.get(f"{misbehaving}/collection/token/")
    assert answer.json()["access_token"] == "t"


async def test_a_cookie_an_answer_sets_is_never_sent_back() -> None:
    """One client calls every provider with its own credentials: a cookie an answer sets (a balancer's session,
    say) is read on that answer, and sent with no later request."""
    heads: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nSet-Cookie: session=abc; Path=/\r\nContent-Length: 2\r\n"
                     b"Connection: close\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    url = f"http://localhost:{server.sockets[0].getsockname()[1]}"  # by name: aiohttp's jar keeps none for an IP
    async with provider_http_client(httpx.Timeout(2.0)) as http:
        first = await http.get(f"{url}/collection/token/")
        await http.get(f"{url}/collection/v1_0/requesttopay/x")
    server.close()
    assert first.cookies["session"] == "abc"
    assert b"cookie:" not in heads[1].lower(), heads[1]
