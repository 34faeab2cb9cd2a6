"""The board's streams are limited per viewer's address, a forwarded header counting only from our own proxy, and
a stream closed gives its place back."""

from __future__ import annotations

import aiohttp

from gateway.db.engine import Sessions
from tests.factories import make_contest
from tests.leaderboard.conftest import MakeClient
from tests.leaderboard.test_stream import OpenStream
from tests.waiting import until_true


async def test_streams_per_address_are_limited(make_client: MakeClient, streams: OpenStream,
                                               sessions: Sessions) -> None:
    client = await make_client(streams_per_ip=2)
    contest = await make_contest(sessions)
    for _ in range(2):
        response, reader = await streams(client, contest.slug)
        assert response.status == 200 and await reader.next() is not None
    refused = await client.get(f"/api/v1/contests/{contest.slug}/leaderboard/stream")
    assert refused.status == 429
    assert (await refused.json())["error"]["code"] == "rate_limited"
    assert (await client.get(f"/api/v1/contests/{contest.slug}/leaderboard")).status == 200  # the JSON is not


async def test_a_forwarded_header_from_a_peer_that_is_not_our_proxy_does_not_open_more_streams(
        make_client: MakeClient, streams: OpenStream, sessions: Sessions) -> None:
    """The test client connects from loopback: with TRUSTED_PROXIES naming another proxy, it is a viewer
    like any other, and a rotating X-Forwarded-For does not make it many viewers."""
    client = await make_client(streams_per_ip=1, settings_update={"trusted_proxies": "10.0.0.0/8"})
    contest = await make_contest(sessions)
    response, reader = await streams(client, contest.slug, headers={"X-Forwarded-For": "203.0.113.1"})
    assert response.status == 200 and await reader.next() is not None
    refused = await client.get(f"/api/v1/contests/{contest.slug}/leaderboard/stream",
                               headers={"X-Forwarded-For": "203.0.113.2"})
    assert refused.status == 429


async def test_a_closed_stream_frees_its_place(make_client: MakeClient, streams: OpenStream,
                                               sessions: Sessions) -> None:
    client = await make_client(streams_per_ip=1)
    contest = await make_contest(sessions)
    response, reader = await streams(client, contest.slug)
    assert await reader.next() is not None
    await reader.close()
    opened: list[aiohttp.ClientResponse] = []

    async def place_freed() -> bool:  # once the server has noticed the closed connection
        again = await client.get(f"/api/v1/contests/{contest.slug}/leaderboard/stream")
        if again.status != 200:
            again.release()
            return False
        opened.append(again)
        return True

    await until_true(place_freed, "the closed stream's place was never freed")
    opened[0].close()
