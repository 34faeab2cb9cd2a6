"""Only the service puts frames on the board: the fan-out server (nginx with Nchan, as `gateway fanout` writes it)
and the balancer in front of it (deploy/haproxy.cfg as it ships, only its addresses local) refuse a forged frame, a
DELETE of a channel, and anyone but the service's sources, while the service's own frames go on reaching viewers.

A "foreign" machine here is 127.0.0.2: a loopback address on Linux like 127.0.0.1, from which a test can connect
without any set-up, and which neither server allows (each allows 127.0.0.1 and ::1 unless told otherwise)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr, ValidationError
from redis.asyncio import Redis

from assembly.machine import fanout_server
from assembly.machine.fanout_server import FanoutServer
from assembly.settings import ConfigError, Settings, check_production
from gateway.db.engine import Sessions
from gateway.kit.secret_rules import DEV_SECRET_KEY
from leaderboard.keys import LEADERBOARD_FANOUT
from leaderboard.publish_secret import HEADER
from tests.factories import make_contest
from tests.leaderboard.conftest import EventReader, MakeClient
from tests.leaderboard.helpers import vote_and_publish
from tests.leaderboard.nchan import (
    balancing,
    on_free_ports,
    on_free_ports_behind,
    publisher_headers,
    publishing_to,
    running,
)
from tests.test_config import STRONG, production
from tests.waiting import until

FOREIGN = "127.0.0.2"
# What the outside review posted: a board no vote ever made.
FORGED = json.dumps({"version": 999_999_999, "total_votes": 1_000_000,
                     "candidates": [{"code": "99", "name": "Winner", "votes": 1_000_000}]}).encode()


@pytest.fixture
async def nchan(tmp_path: Path) -> AsyncIterator[FanoutServer]:
    async with running(on_free_ports(), tmp_path / "fanout") as server:
        yield server


async def status_of(method: str, url: str, *, source: str = "127.0.0.1", headers: dict[str, str] | None = None,
                    body: bytes = b"") -> int:
    """What the publisher side answers a request from `source`."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with (aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as http,
                http.request(method, url, data=body or None, headers={
                    "Content-Type": "application/json", "X-EventSource-Event": "leaderboard", **(headers or {})},
                ) as response):
        return response.status


async def newest_frame(server: FanoutServer, slug: str) -> dict[str, Any]:
    """What a viewer who comes now is shown first."""
    async with (aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
                http.get(f"{server.stream_base}/api/v1/contests/{slug}/leaderboard/stream",
                         headers={"Accept": "text/event-stream"}) as response):
        assert response.status == 200
        reader = EventReader(response)
        event = await reader.next()
        await reader.close()
    assert event is not None
    return event.board


async def published_board(make_client: MakeClient, sessions: Sessions, redis: Redis,
                          settings_update: dict[str, Any]) -> str:
    """A board of 3 votes, published by the service with these settings; its slug."""
    contest = await make_contest(sessions, candidates=2)
    await vote_and_publish(sessions, redis, contest, "01", 3)
    client = await make_client(settings_update=settings_update)
    await until(lambda: client.app[LEADERBOARD_FANOUT].published == 1, timeout=10)
    return contest.slug


async def test_the_fanout_server_takes_frames_only_with_the_services_secret_and_never_a_delete(
        make_client: MakeClient, nchan: FanoutServer, sessions: Sessions, redis: Redis) -> None:
    slug = await published_board(make_client, sessions, redis, publishing_to(nchan))
    frame, channel = f"{nchan.publish_url}{slug}", f"{nchan.publish_url}{slug}.0"
    secret = publisher_headers(nchan)

    assert await status_of("POST", frame, body=FORGED) == 403  # no secret, from the service's own machine
    assert await status_of("POST", frame, body=FORGED, headers={**secret, "X-Board-Publish-Secret": "x" * 43}) == 403
    assert await status_of("GET", channel) == 403
    assert await status_of("POST", frame, body=FORGED, headers=secret, source=FOREIGN) == 403  # the secret, elsewhere
    for method in ("DELETE", "PUT"):  # the service only publishes and looks; a DELETE would drop every viewer
        assert await status_of(method, channel, headers=secret) == 405
        assert await status_of(method, frame, headers=secret) == 405
        assert await status_of(method, channel) == 405  # with the secret or without: never taken

    board = await newest_frame(nchan, slug)
    assert board["total_votes"] == 3 and board["version"] != 999_999_999  # the service's, untouched
    assert await status_of("GET", channel, headers=secret) == 200  # and the service may still look


async def test_the_secret_is_matched_as_written_and_a_foreign_source_learns_nothing_of_it(nchan: FanoutServer) -> None:
    """nginx's map matches a string ignoring case, and its `if`s run before allow/deny: the secret is matched case
    for case, and from a source not allowed the answer is the same whether the secret is right or not."""
    probe, secret = f"{nchan.publish_url}probe", nchan.publish_secret  # no such channel: 404 to whoever is let in
    assert await status_of("GET", probe, headers={HEADER: secret}) == 404
    for other_case in {secret.upper(), secret.lower(), secret.swapcase()} - {secret}:
        assert await status_of("GET", probe, headers={HEADER: other_case}) == 403
        assert await status_of("POST", probe, body=FORGED, headers={HEADER: other_case}) == 403
    for method in ("GET", "POST", "DELETE", "PUT"):
        right, wrong = ({HEADER: secret}, {HEADER: "x" * len(secret)})
        answers = [await status_of(method, probe, headers=headers, source=FOREIGN) for headers in (right, wrong)]
        assert answers[0] == answers[1] and answers[0] in (403, 405), (method, answers)
    assert await status_of("GET", probe, headers={HEADER: secret}, source=FOREIGN) == 403


async def test_the_shipped_balancer_refuses_a_foreign_address_and_a_delete_and_passes_the_services_frames(
        make_client: MakeClient, nchan: FanoutServer, sessions: Sessions, redis: Redis, tmp_path: Path) -> None:
    async with balancing(on_free_ports_behind((nchan,)), tmp_path / "balancer") as balancer:
        slug = await published_board(make_client, sessions, redis, publishing_to(nchan, balancer.publish_url))
        frame, channel = f"{balancer.publish_url}{slug}", f"{balancer.publish_url}{slug}.0"
        secret = publisher_headers(nchan)

        assert await status_of("POST", frame, body=FORGED, headers=secret, source=FOREIGN) == 403
        assert await status_of("GET", channel, headers=secret, source=FOREIGN) == 403
        assert await status_of("DELETE", channel, headers=secret) == 405
        assert await status_of("DELETE", frame, headers=secret) == 405
        assert await status_of("POST", f"{balancer.publish_url}../admin", body=FORGED, headers=secret) == 405
        assert await status_of("POST", frame, body=FORGED) == 403  # from an allowed source: the fan-out server's
        assert await status_of("GET", channel, headers=secret) == 200

        board = await newest_frame(nchan, slug)
        assert board["total_votes"] == 3 and board["version"] != 999_999_999


def test_production_publishes_to_a_fanout_server_only_with_a_secret_of_its_own() -> None:
    url = "http://balancer:8096/board/"
    with pytest.raises(ConfigError, match="BOARD_FANOUT_SECRET must be set"):
        check_production(production(board_fanout_url=url), set())
    with pytest.raises(ConfigError, match="BOARD_FANOUT_SECRET must be at least"):
        check_production(production(board_fanout_url=url, board_fanout_secret=SecretStr("a1b2c3d4e5f6g7h8")), set())
    check_production(production(board_fanout_url=url, board_fanout_secret=SecretStr(STRONG)), set())
    check_production(production(), set())  # no fan-out server: nothing to prove
    with pytest.raises(ValidationError, match="letters, digits"):  # it is written into nginx's configuration
        Settings(_env_file=None, board_fanout_secret=SecretStr('abc"; allow all; "' * 3))


@pytest.mark.parametrize("weak", ["a1b2c3d4e5f6g7h8", "ab" * 20, DEV_SECRET_KEY])
def test_gateway_fanout_in_production_starts_only_on_a_secret_production_takes(weak: str, tmp_path: Path) -> None:
    """A fan-out machine may have no BOARD_FANOUT_URL, by which production's check of the secret goes: the command
    holds the secret to the same rule (length, randomness, not the development default) before nginx is started."""
    server = on_free_ports()
    env = {**os.environ, "GATEWAY_ENV": "production", "BOARD_FANOUT_SECRET": weak, "GATEWAY_DATA_DIR": str(tmp_path),
           "LOG_JSON": "false"}
    process = subprocess.Popen([sys.executable, "-m", "assembly.cli", "fanout", "--listen", server.listen,
                                "--publish", server.publish_listen, "--workers", "1"],
                               env=env, start_new_session=True, stderr=subprocess.PIPE, text=True)
    try:
        _, said = process.communicate(timeout=120)  # a refusal ends it; nginx started would run until killed
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)
    assert process.returncode == 2, said
    assert "refusing to start in production: BOARD_FANOUT_SECRET must " in said
    assert not (tmp_path / "fanout" / "nginx.conf").exists()


def test_a_fanout_server_never_starts_open_to_requests_without_the_secret(tmp_path: Path) -> None:
    for secret in ("", "short", "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p", "x" * 40 + '"; deny all; #'):  # 31: too short
        with pytest.raises(ValueError, match="publish secret"):
            fanout_server.config(FanoutServer(publish_secret=secret), tmp_path)
