"""Two fan-out servers (Debian's nginx with Nchan) sharing their channels in Redis, behind the balancer (Debian's
HAProxy): one is killed under a few hundred viewers, who come back through the balancer to the other within
seconds and, resuming with `Last-Event-ID` as a browser's EventSource does, miss no frame."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from assembly.machine import fanout_server
from assembly.machine.fanout_server import FanoutServer
from gateway.db.engine import Sessions
from leaderboard.cache import touch
from leaderboard.keys import LEADERBOARD_FANOUT
from tests.factories import make_contest
from tests.leaderboard.conftest import EventReader, MakeClient
from tests.leaderboard.helpers import vote_and_publish
from tests.leaderboard.nchan import (
    answering,
    balancing,
    on_free_ports,
    on_free_ports_behind,
    publisher_headers,
    publishing_to,
    running,
    shared_redis,
)
from tests.waiting import until

VIEWERS = 300
CHANGES = 12
KILL_AFTER = 4  # changes before one server is killed
STREAM = {"Accept": "text/event-stream"}  # as EventSource asks
RETRY_SECONDS = 1.0  # a browser's EventSource waits a few seconds (Nchan sends no `retry:`); a short one here


@dataclass
class Viewer:
    """One page's stream as EventSource keeps it: when it drops, back at the same address after a moment, with the
    id of the last frame it had."""

    url: str
    versions: list[int] = field(default_factory=list)
    last_id: str | None = None
    dropped_at: float | None = None
    back_at: float | None = None  # the first frame after the drop

    async def watch(self, http: aiohttp.ClientSession) -> None:
        while True:
            headers = {"Accept": "text/event-stream"}
            if self.last_id is not None:
                headers["Last-Event-ID"] = self.last_id
            with contextlib.suppress(aiohttp.ClientError, OSError):
                response = await http.get(self.url, headers=headers)
                reader = EventReader(response)
                try:
                    while (event := await reader.events.get()) is not None:
                        self.last_id = event.id
                        self.versions.append(int(event.board["version"]))
                        if self.dropped_at is not None and self.back_at is None:
                            self.back_at = time.monotonic()
                finally:
                    await reader.close()
            if self.dropped_at is None:
                self.dropped_at = time.monotonic()
            await asyncio.sleep(RETRY_SECONDS * random.random())


async def test_viewers_of_a_killed_fanout_server_resume_on_the_other_missing_no_frame(
    make_client: MakeClient, sessions: Sessions, redis: Redis, tmp_path: Path
) -> None:
    async with shared_redis(tmp_path / "redis") as store:
        await kill_one_of_two(make_client, sessions, redis, tmp_path, store)


async def kill_one_of_two(make_client: MakeClient, sessions: Sessions, redis: Redis, tmp_path: Path,
                          store: str) -> None:
    secret = on_free_ports().publish_secret  # the service's, which every fan-out server asks for
    doomed, spare = (replace(on_free_ports(), workers=2, shards=2, max_connections=1024, redis_url=store,
                             publish_secret=secret) for _ in range(2))
    contest = await make_contest(sessions, candidates=2)
    await vote_and_publish(sessions, redis, contest, "01", 3)
    doomed_process = fanout_server.start(doomed, tmp_path / "doomed")
    tasks: list[asyncio.Task[None]] = []
    try:
        await answering(doomed, doomed_process)
        async with (running(spare, tmp_path / "spare"),
                    balancing(on_free_ports_behind((doomed, spare)), tmp_path / "balancer") as balancer,
                    aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
                                          connector=aiohttp.TCPConnector(limit=0)) as http):
            client = await make_client(settings_update=publishing_to(spare, balancer.publish_url))
            await until(lambda: client.app[LEADERBOARD_FANOUT].published == 1)
            path = f"/api/v1/contests/{contest.slug}/leaderboard/stream"
            witness = Viewer(f"{spare.stream_base}{path}?viewer=witness")  # on the server that stays
            viewers = [Viewer(f"{balancer.stream_base}{path}?viewer={i}") for i in range(VIEWERS)]
            tasks = [asyncio.create_task(v.watch(http)) for v in [witness, *viewers]]
            await until(lambda: all(v.versions for v in [witness, *viewers]), timeout=15)
            before = witness.versions[-1]

            for change in range(CHANGES):
                if change == KILL_AFTER:
                    os.killpg(doomed_process.pid, signal.SIGKILL)
                    killed_at = time.monotonic()
                await touch(redis, contest.id)  # a vote's refresh, as the outbox worker announces it
                await asyncio.sleep(0.4)
            await until(lambda: len(witness.versions) > 1 and all(
                v.versions[-1] == witness.versions[-1] for v in viewers), timeout=15)

            frames = [version for version in witness.versions if version > before]
            assert len(frames) >= CHANGES // 2  # the frames went on through the kill (coalesced at most in pairs)
            moved = [v for v in viewers if v.dropped_at is not None]
            assert VIEWERS // 4 <= len(moved) <= VIEWERS * 3 // 4  # the killed server's share of the balancer's
            assert all(v.back_at is not None and v.back_at - killed_at < 5 for v in moved)
            for viewer in viewers:  # every frame, each once, in order: whichever server, whichever shard
                assert [version for version in viewer.versions if version > before] == frames
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if doomed_process.poll() is None:
            os.killpg(doomed_process.pid, signal.SIGTERM)
        doomed_process.wait(10)


async def test_a_board_is_spread_over_its_shards_which_carry_the_same_frames_and_ids(
    make_client: MakeClient, sessions: Sessions, redis: Redis, tmp_path: Path
) -> None:
    """Each viewer id keeps its shard (a stable hash), several ids fill every shard, and a viewer that resumes on
    another shard with its `Last-Event-ID` gets the frames it missed there, none twice."""
    server = replace(on_free_ports(), workers=1, shards=3)  # one worker: its channels' counts are exact
    contest = await make_contest(sessions, candidates=2)
    await vote_and_publish(sessions, redis, contest, "01", 3)
    async with running(server, tmp_path / "fanout"), aiohttp.ClientSession() as http:
        client = await make_client(settings_update=publishing_to(server))
        await until(lambda: client.app[LEADERBOARD_FANOUT].published == 1)
        for _ in range(3):
            await vote_and_publish(sessions, redis, contest, "02", 1)
            await asyncio.sleep(0.4)
        await until(lambda: client.app[LEADERBOARD_FANOUT].published == 4)
        channels = {}
        for shard in range(3):
            async with http.get(f"{server.publish_url}{contest.slug}.{shard}",
                                headers={"Accept": "application/json", **publisher_headers(server)}) as response:
                channels[shard] = await response.json(content_type=None)
        assert len({info["last_message_id"] for info in channels.values()}) == 1  # the same ids on every shard

        subscribers = []
        for viewer in range(30):
            url = f"{server.stream_base}/api/v1/contests/{contest.slug}/leaderboard/stream?viewer=v{viewer}"
            response = await http.get(url, headers={"Accept": "text/event-stream"})
            reader = EventReader(response)
            first = await reader.next()
            assert first is not None and first.board["total_votes"] == 6
            subscribers.append(reader)
        counts = await shard_subscribers(http, server, contest.slug)
        assert sum(counts) == 30 and min(counts) > 0  # every shard has some of the 30
        for reader in subscribers:
            await reader.close()

        # The id of the second frame, given to every shard in turn: the same two frames after it from each.
        url = f"{server.stream_base}/api/v1/contests/{contest.slug}/leaderboard/stream"
        async with http.get(f"{url}?viewer=v0", headers={**STREAM, "Last-Event-ID": "0:0"}) as response:
            reader = EventReader(response)
            replay = [await reader.next() for _ in range(4)]
            await reader.close()
        second = replay[1]
        assert second is not None
        resuming = {**STREAM, "Last-Event-ID": second.id or ""}
        for viewer in range(10):
            async with http.get(f"{url}?viewer=v{viewer}", headers=resuming) as response:
                reader = EventReader(response)
                missed = [await reader.next(), await reader.next()]
                assert [event.board["total_votes"] for event in missed if event] == [5, 6]
                assert await reader.nothing_within(0.2)
                await reader.close()


async def shard_subscribers(http: aiohttp.ClientSession, server: FanoutServer, slug: str) -> list[int]:
    counts = []
    for shard in range(server.shard_count):
        async with http.get(f"{server.publish_url}{slug}.{shard}",
                            headers={"Accept": "application/json", **publisher_headers(server)}) as r:
            counts.append(int((await r.json(content_type=None))["subscribers"]))
    return counts
