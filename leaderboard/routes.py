"""The board over HTTP: a JSON snapshot with an ETag, and a Server-Sent Events stream of its changes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.kit.keys import HTTP, REDIS, settings_of
from gateway.kit.throttle import client_address
from leaderboard import sse
from leaderboard.board import etag_matches, needs_first_frame, parse_last_event_id
from leaderboard.boards import Boards
from leaderboard.config import StreamConfig
from leaderboard.fanout import FanoutConfig, FanoutPublisher
from leaderboard.hub import Frame, Hub, Viewer
from leaderboard.keys import (
    LEADERBOARD_BOARDS,
    LEADERBOARD_CONFIG,
    LEADERBOARD_FANOUT,
    LEADERBOARD_HUB,
    LEADERBOARD_SESSIONS,
)
from leaderboard.publish_secret import publish_secret
from leaderboard.settings import BoardSettings

routes = web.RouteTableDef()
STREAM_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@routes.get("/api/v1/contests/{slug}/leaderboard")
async def show_board(request: web.Request) -> web.StreamResponse:
    """The board now; pollers send If-None-Match and get a 304 until the version changes."""
    boards = request.app[LEADERBOARD_BOARDS]
    contest = await boards.contest(request.match_info["slug"])
    rendered = await boards.render(contest)
    headers = {"ETag": rendered.etag, "Cache-Control": "no-cache"}
    if etag_matches(request.headers.get("If-None-Match"), rendered.etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=rendered.body, content_type="application/json", headers=headers)


@routes.get("/api/v1/contests/{slug}/leaderboard/stream", allow_head=False)
async def stream_board(request: web.Request) -> web.StreamResponse:
    """The current board at once (unless the viewer already has it), then each coalesced change."""
    boards, hub = request.app[LEADERBOARD_BOARDS], request.app[LEADERBOARD_HUB]
    config = request.app[LEADERBOARD_CONFIG]
    contest = await boards.contest(request.match_info["slug"])
    last_id = parse_last_event_id(request.headers.get("Last-Event-ID") or request.query.get("last_event_id"))
    address = client_address(request)
    viewer = hub.watch(contest.id, address, request.transport)
    response = web.StreamResponse(headers=STREAM_HEADERS)
    try:
        first = hub.first_frame(contest.id, await boards.render(contest))
        _limit_buffers(request, config)
        await response.prepare(request)
        await _send(response, viewer, first, last_id, config)
    except ConnectionResetError:
        pass  # the viewer left, or was cut off for being too slow
    finally:
        hub.leave(viewer)
    return response


async def _send(response: web.StreamResponse, viewer: Viewer, first: Frame, last_id: int | None,
                config: StreamConfig) -> None:
    opening = sse.retry_frame(config.retry_ms)
    # Written now, or the viewer has that version already (a larger id is not trusted further); with
    # its settings unknown then, the next re-read sends the board again should they have changed.
    sent, sent_etag = first.version, ""
    if needs_first_frame(first.version, last_id):
        opening += first.data
        sent_etag = first.etag
    if first.is_news_to(viewer.latest, viewer.latest_etag):
        viewer.latest, viewer.latest_etag = first.version, sent_etag
    await response.write(opening)
    while (frame := await viewer.queue.get()) is not None and not viewer.closed:
        if frame.version and not frame.is_news_to(sent, sent_etag):
            continue  # already written as the first frame
        await response.write(frame.data)
        if frame.version:
            sent, sent_etag = frame.version, frame.etag


def _limit_buffers(request: web.Request, config: StreamConfig) -> None:
    """Optionally cap what a connection may hold in kernel and user space, so a slow one is noticed early."""
    transport = request.transport
    if config.send_buffer_bytes is None or transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, config.send_buffer_bytes)
    if isinstance(transport, asyncio.WriteTransport):
        transport.set_write_buffer_limits(high=config.send_buffer_bytes)


async def hub_ctx(app: web.Application) -> AsyncIterator[None]:
    """The process's boards reader and hub; runs after the core contexts (Redis and the database exist)."""
    config = app[LEADERBOARD_CONFIG]
    boards = Boards(app[LEADERBOARD_SESSIONS], app[REDIS], config.contest_ttl_seconds)
    hub = Hub(app[REDIS], boards, config)
    app[LEADERBOARD_BOARDS] = boards
    app[LEADERBOARD_HUB] = hub
    publisher = _fanout_publisher(app, boards)
    if publisher is not None:
        hub.followers.append(publisher.notify)
        await publisher.start()
    await hub.start()
    yield
    await hub.stop()
    if publisher is not None:
        await publisher.stop()
    await boards.close()  # reads the stopped pumps, or viewers who hung up, left under way


def _fanout_publisher(app: web.Application, boards: Boards) -> FanoutPublisher | None:
    url = settings_of(app, BoardSettings).board_fanout_url
    if not url:
        return None
    secret = publish_secret(settings_of(app, BoardSettings))
    publisher = FanoutPublisher(app[REDIS], boards, app[LEADERBOARD_SESSIONS], app[HTTP], FanoutConfig(url, secret))
    app[LEADERBOARD_FANOUT] = publisher
    return publisher


async def close_streams(app: web.Application) -> None:
    """on_shutdown runs before the server waits for handlers: end the streams so it need not wait long."""
    if LEADERBOARD_HUB in app:
        await app[LEADERBOARD_HUB].close_all()


def setup(app: web.Application) -> None:
    """Routes, the per-process hub, and closing every stream on shutdown. Tests may replace the
    StreamConfig in `app[LEADERBOARD_CONFIG]` before the app starts."""
    settings = settings_of(app, BoardSettings)
    app[LEADERBOARD_CONFIG] = StreamConfig(streams_per_ip=settings.streams_per_ip,
                                           heartbeat_seconds=settings.stream_heartbeat_seconds)
    app.add_routes(routes)
    app.cleanup_ctx.append(hub_ctx)
    app.on_shutdown.append(close_streams)
