"""Clients that send a body too slowly, or hang up in the middle of one: the first is answered 408
and cut off within REQUEST_BODY_SECONDS, the second leaves one INFO line, never an ERROR."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.db.engine import Sessions
from tests.factories import count_orders, make_contest
from tests.servers import free_port

LIMIT = 1.0  # REQUEST_BODY_SECONDS for these tests
VOTE = json.dumps({"candidate": "01", "quantity": 0, "provider": "mtn", "msisdn": "+237670000001"}).encode()


@pytest.fixture
async def quick(clean: None, settings: Settings) -> AsyncIterator[TestClient]:
    app = create_app(settings.model_copy(update={"request_body_seconds": LIMIT, "stream_heartbeat_seconds": 0.2}))
    async with TestClient(TestServer(app)) as client:
        yield client


async def dribble(client: TestClient, path: str, body: bytes, every: float) -> tuple[bytes, float]:
    """Send the headers at once and the body a byte at a time: (what came back, seconds until it did)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode())

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            for byte in body:
                await asyncio.sleep(every)
                writer.write(bytes([byte]))
                await writer.drain()

    loop = asyncio.get_running_loop()
    started = loop.time()
    sending = asyncio.create_task(trickle())
    answer = b""
    try:
        async with asyncio.timeout(LIMIT + 6):  # before the whole body (8 s) could have come
            # To the end: the server closes the connection. It may end in a reset rather than a FIN when a byte of
            # the dribble arrived after its last read (TCP resets a socket closed with data unread): what came
            # before the reset is the answer, as an HTTP client that read its Content-Length has it.
            with contextlib.suppress(ConnectionResetError):
                while chunk := await reader.read(65536):
                    answer += chunk
    finally:
        sending.cancel()
        writer.close()
    return answer, loop.time() - started


@pytest.mark.parametrize("path", ["/api/v1/contests/gala/votes", f"/payments/mtn/callback/{uuid.UUID(int=0)}"])
async def test_a_body_sent_too_slowly_is_answered_408_and_the_connection_closed(
        quick: TestClient, sessions: Sessions, path: str) -> None:
    await make_contest(sessions, slug="gala")
    answer, took = await dribble(quick, path, VOTE, every=0.1)  # 8 s for the whole body
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer
    assert json.loads(body)["error"]["code"] == "body_timeout"
    assert LIMIT - 0.1 < took < LIMIT + 5  # at the limit, not once the whole body came (8 s)
    assert await count_orders(sessions) == 0


async def test_a_slow_body_that_arrives_within_the_limit_is_served(quick: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    body = json.dumps({"candidate": "01"}).ljust(20).encode()
    answer, _ = await dribble(quick, "/api/v1/contests/gala/votes", body, every=LIMIT / 40)  # in half the time
    assert b"HTTP/1.1 422 " in answer  # read whole: the vote lacks its fields


@pytest.fixture(params=["as_gateway_serves_it", "cancelling_handlers"])
async def served(clean: None, settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, int]]:
    """The app on a port: as `gateway web` runs it (a handler runs on after its client left: its reads
    fail), and as aiohttp's TestServer does (the handler of a client that left is cancelled)."""
    app = create_app(settings)
    if request.param == "cancelling_handlers":
        async with TestServer(app) as server:
            yield server.host, server.port
        return
    runner = web.AppRunner(app, handler_cancellation=False, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield "127.0.0.1", port
    finally:
        await runner.cleanup()


async def test_a_client_that_hangs_up_mid_body_leaves_one_info_line_and_no_error(
        served: tuple[str, int], sessions: Sessions, caplog: pytest.LogCaptureFixture) -> None:
    await make_contest(sessions, slug="gala")
    caplog.set_level(logging.INFO)
    _, writer = await asyncio.open_connection(*served)
    writer.write(b"POST /api/v1/contests/gala/votes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 500\r\n\r\n" + VOTE[:20])
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()

    def went_away() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "assembly.web.middleware" and "went away" in r.getMessage()]

    async with asyncio.timeout(5):
        while not went_away():
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # anything aiohttp might log after our answer
    assert [r.levelno for r in went_away()] == [logging.INFO]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert await count_orders(sessions) == 0


async def test_the_live_board_stream_outlives_the_body_limit(quick: TestClient, sessions: Sessions) -> None:
    """A long GET without a body: nothing to read, nothing to time out."""
    await make_contest(sessions, slug="gala")
    response = await quick.get("/api/v1/contests/gala/leaderboard/stream")
    assert response.status == 200
    # A ping each 0.2 s: the twelfth was sent 2.4 s after the stream began, well past the limit, however late the
    # test reads it (a stream cut at the limit would have ended after five or six).
    pings = 0
    async with asyncio.timeout(30):
        while pings < 12:
            line = await response.content.readline()
            assert line, f"the stream was cut after {pings} pings"
            pings += line.startswith(b":")
    response.close()
