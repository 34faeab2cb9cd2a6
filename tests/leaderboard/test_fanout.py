"""The board through a real fan-out server (Debian's nginx with Nchan, installed by `make`): the service publishes
each frame once; viewers subscribe there, at the stream's usual path, and resume with `Last-Event-ID`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from assembly.machine import fanout_server
from assembly.machine.fanout_server import FanoutServer
from gateway.db.engine import Sessions
from gateway.db.models import ContestStatus
from leaderboard.board import Rendered
from leaderboard.cache import touch
from leaderboard.fanout import LEASE_KEY, is_news
from leaderboard.keys import LEADERBOARD_FANOUT
from leaderboard.publish_secret import DEV_SECRET_FILE
from tests.factories import make_contest
from tests.leaderboard.conftest import EventReader, MakeClient
from tests.leaderboard.helpers import set_contest, vote_and_publish
from tests.leaderboard.nchan import answering, on_free_ports, publishing_to, running
from tests.servers import free_port
from tests.waiting import until

Subscribe = Callable[..., "asyncio.Future[EventReader]"]


@pytest.fixture
async def nchan(tmp_path: Path) -> AsyncIterator[FanoutServer]:
    """nginx with Nchan on free loopback ports, as `gateway fanout` runs it."""
    async with running(on_free_ports(), tmp_path / "fanout") as server:
        yield server


@pytest.fixture
async def viewers(nchan: FanoutServer) -> AsyncIterator[Callable[..., asyncio.Future[EventReader]]]:
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=5))
    readers: list[EventReader] = []

    async def open_(slug: str, last_event_id: str | None = None) -> EventReader:
        headers = {"Accept": "text/event-stream"}  # as a browser's EventSource sends
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        response = await session.get(f"{nchan.stream_base}/api/v1/contests/{slug}/leaderboard/stream",
                                     headers=headers)
        assert response.status == 200, response.status
        assert response.headers["Content-Type"].startswith("text/event-stream")
        reader = EventReader(response)
        readers.append(reader)
        return reader

    yield open_  # type: ignore[misc]
    for reader in readers:
        await reader.close()
    await session.close()


async def test_a_counted_vote_reaches_a_fanout_viewer_who_resumes_with_last_event_id(
    make_client: MakeClient, nchan: FanoutServer, viewers: Subscribe, sessions: Sessions, redis: Redis
) -> None:
    contest = await make_contest(sessions, candidates=2)
    await vote_and_publish(sessions, redis, contest, "01", 3)
    client = await make_client(settings_update=publishing_to(nchan))
    await until(lambda: client.app[LEADERBOARD_FANOUT].published == 1)  # on taking the lease
    reader = await viewers(contest.slug)
    first = await reader.next(timeout=10)  # the board as the service published it on taking the lease
    assert first is not None and first.event == "leaderboard"
    api = await (await client.get(f"/api/v1/contests/{contest.slug}/leaderboard")).json()
    assert first.board == api

    await vote_and_publish(sessions, redis, contest, "02", 5)
    second = await reader.until(lambda e: e.board["total_votes"] == 8)
    assert {c["code"]: c["votes"] for c in second.board["candidates"]} == {"02": 5, "01": 3}
    await reader.close()

    # Away for a while: one change is missed, then the viewer comes back with the id of the last frame it had.
    await vote_and_publish(sessions, redis, contest, "01", 1)
    await until(lambda: client.app[LEADERBOARD_FANOUT].published >= 3)
    back = await viewers(contest.slug, last_event_id=second.id)
    missed = await back.next()
    assert missed is not None and missed.board["total_votes"] == 9
    assert await back.nothing_within(0.5)  # nothing it already had comes again

    # A viewer with the newest id gets nothing until the next change.
    current = await viewers(contest.slug, last_event_id=missed.id)
    assert await current.nothing_within(0.5)
    await vote_and_publish(sessions, redis, contest, "02", 1)
    assert (await current.next()).board["total_votes"] == 10  # type: ignore[union-attr]


async def test_a_sealed_board_goes_out_sealed(make_client: MakeClient, nchan: FanoutServer, viewers: Subscribe,
                                             sessions: Sessions, redis: Redis) -> None:
    contest = await make_contest(sessions, candidates=2)
    await vote_and_publish(sessions, redis, contest, "01", 4)
    client = await make_client(settings_update=publishing_to(nchan))
    await until(lambda: client.app[LEADERBOARD_FANOUT].published == 1)
    reader = await viewers(contest.slug)
    assert (await reader.next(timeout=10)).board["total_votes"] == 4  # type: ignore[union-attr]

    await set_contest(sessions, contest, board_sealed=True)
    await touch(redis, contest.id)  # what the admin area's change announces
    sealed = await reader.until(lambda e: e.board.get("sealed") is True)
    assert sealed.board["candidates"] == [] and sealed.board["total_votes"] is None
    publisher = client.app[LEADERBOARD_FANOUT]
    await until(lambda: publisher.published == 2)  # Nchan may hand the frame on before it answers the POST
    sent = publisher.published
    await vote_and_publish(sessions, redis, contest, "02", 2)
    assert await reader.nothing_within(1.0)  # a vote under seal sends nothing that could be counted
    assert publisher.published == sent

    await set_contest(sessions, contest, status=ContestStatus.CLOSED)  # the seal ends with voting
    await touch(redis, contest.id)
    final = await reader.next()  # the very next frame: nothing went out in between
    assert final is not None and final.board["sealed"] is False and final.board["total_votes"] == 6


async def test_unknown_boards_are_refused_and_a_second_process_takes_over_publishing(
    make_client: MakeClient, nchan: FanoutServer, viewers: Subscribe, sessions: Sessions, redis: Redis
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{nchan.stream_base}/api/v1/contests/no-such/leaderboard/stream",
                            headers={"Accept": "text/event-stream"}) as response:
            assert response.status == 403  # never published: not a channel anybody waits on
    contest = await make_contest(sessions, candidates=2)
    settings_update = publishing_to(nchan)
    first = await make_client(settings_update=settings_update)
    second = await make_client(settings_update=settings_update)
    await until(lambda: first.app[LEADERBOARD_FANOUT].published + second.app[LEADERBOARD_FANOUT].published == 1)
    leader, other = (first, second) if first.app[LEADERBOARD_FANOUT].leading else (second, first)
    assert not other.app[LEADERBOARD_FANOUT].leading  # one publisher at a time
    reader = await viewers(contest.slug)
    await reader.next(timeout=10)

    lease = await redis.get(LEASE_KEY)
    await leader.close()  # its host goes away; the lease it held is handed back, not left to expire (5 s)
    await until(lambda: other.app[LEADERBOARD_FANOUT].leading, timeout=3)
    assert await redis.get(LEASE_KEY) not in (None, lease)
    await vote_and_publish(sessions, redis, contest, "02", 7)
    assert (await reader.until(lambda e: e.board["total_votes"] >= 7, timeout=10)).board["total_votes"] == 7


async def test_a_board_taken_back_to_draft_is_withdrawn_from_its_viewers_and_from_new_ones(
    make_client: MakeClient, nchan: FanoutServer, viewers: Subscribe, sessions: Sessions, redis: Redis
) -> None:
    contest = await make_contest(sessions, candidates=2)
    await vote_and_publish(sessions, redis, contest, "01", 3)
    client = await make_client(settings_update=publishing_to(nchan))
    await until(lambda: client.app[LEADERBOARD_FANOUT].published == 1)
    reader = await viewers(contest.slug)
    assert (await reader.next(timeout=10)).board["total_votes"] == 3  # type: ignore[union-attr]

    await set_contest(sessions, contest, status=ContestStatus.DRAFT)  # the organiser takes it back
    await touch(redis, contest.id)
    withdrawn = await reader.next()
    assert withdrawn is not None and withdrawn.event == "withdrawn"
    newcomer = await viewers(contest.slug)
    first = await newcomer.next()
    assert first is not None and first.event == "withdrawn"  # not the board of before
    assert await newcomer.nothing_within(0.5)

    await set_contest(sessions, contest, status=ContestStatus.OPEN)  # and opens it again: the board in full
    await touch(redis, contest.id)
    again = await reader.until(lambda e: e.event == "leaderboard")
    assert again.board["total_votes"] == 3


async def test_a_process_taking_over_the_publishing_withdraws_a_board_its_predecessor_published(
    make_client: MakeClient, nchan: FanoutServer, viewers: Subscribe, sessions: Sessions, redis: Redis
) -> None:
    """The host that published the board is gone when the organiser takes the contest back to draft: the process
    that publishes next knows the channel all the same, and new viewers are not shown the board of before."""
    contest = await make_contest(sessions, candidates=2)
    await vote_and_publish(sessions, redis, contest, "01", 3)
    settings_update = publishing_to(nchan)
    first = await make_client(settings_update=settings_update)
    await until(lambda: first.app[LEADERBOARD_FANOUT].published == 1)
    second = await make_client(settings_update=settings_update)
    await first.close()
    await set_contest(sessions, contest, status=ContestStatus.DRAFT)
    await touch(redis, contest.id)

    await until(lambda: second.app[LEADERBOARD_FANOUT].published == 1, timeout=10)
    newcomer = await viewers(contest.slug)
    shown = await newcomer.next()
    assert shown is not None and shown.event == "withdrawn"


def test_a_second_fanout_server_on_a_taken_port_fails_rather_than_sharing_it(nchan: FanoutServer,
                                                                            tmp_path: Path) -> None:
    """One worker listens alone (two test runs that drew the same port must not share it); several spread the
    viewers over their sockets (`reuseport`), as the production server does."""
    second = FanoutServer(listen=nchan.listen, publish_listen=f"127.0.0.1:{free_port()}", workers=1,
                          max_connections=256)
    process = fanout_server.start(second, tmp_path / "second")
    try:
        assert process.wait(10) != 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)
    assert "reuseport" in fanout_server.config(FanoutServer(workers=4), tmp_path)


def test_what_the_publisher_counts_as_news() -> None:
    """The hub's rule: newer versions, and a seal (version 0, its own ETag); never an older version, as a read
    from PostgreSQL while Redis is away may be, which Nchan would then hand every new viewer."""
    published = (50, "e50")
    assert is_news(Rendered(51, "e51", b"{}"), published)
    assert is_news(Rendered(50, "e50-hidden", b"{}"), published)  # same votes, counts hidden since
    assert is_news(Rendered(0, "sealed", b"{}"), published)
    assert not is_news(Rendered(50, "e50", b"{}"), published)
    assert not is_news(Rendered(42, "e42", b"{}"), published)
    assert is_news(Rendered(42, "e42", b"{}"), None)


async def test_a_restarted_fanout_server_gets_every_board_again_within_seconds(
    make_client: MakeClient, sessions: Sessions, redis: Redis, tmp_path: Path
) -> None:
    """Nchan keeps its channels in memory: after a restart, viewers are refused until the boards are published
    again; the publisher notices within its probe (2 s), not at its full pass (15 s)."""
    server = FanoutServer(listen=f"127.0.0.1:{free_port()}", publish_listen=f"127.0.0.1:{free_port()}",
                          workers=1, max_connections=256)
    contest = await make_contest(sessions, candidates=2)
    await vote_and_publish(sessions, redis, contest, "01", 2)
    process = fanout_server.start(server, tmp_path / "fanout")
    try:
        await answering(server, process)
        client = await make_client(settings_update=publishing_to(server))
        await until(lambda: client.app[LEADERBOARD_FANOUT].published == 1)
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
        process = fanout_server.start(server, tmp_path / "fanout")
        await answering(server, process)
        restarted = asyncio.get_running_loop().time()
        await until(lambda: client.app[LEADERBOARD_FANOUT].published == 2, timeout=10)
        assert asyncio.get_running_loop().time() - restarted < 5
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.stream_base}/api/v1/contests/{contest.slug}/leaderboard/stream",
                                headers={"Accept": "text/event-stream"}) as response:
                assert response.status == 200
                reader = EventReader(response)
                first = await reader.next()
                await reader.close()
        assert first is not None and first.board["total_votes"] == 2
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


async def test_gateway_fanout_runs_in_the_default_data_folder_which_is_relative(
    make_client: MakeClient, sessions: Sessions, redis: Redis, tmp_path: Path
) -> None:
    """`make run` keeps its data in ./var, and its `gateway run` starts `gateway fanout` there: nginx must be
    given that folder whole (it reads its -c below its -p). The web processes of the same folder publish to it
    without BOARD_FANOUT_SECRET: both read the secret made there."""
    server = on_free_ports()
    env = {name: value for name, value in os.environ.items()
           if name not in ("GATEWAY_DATA_DIR", "BOARD_FANOUT_SECRET")}
    process = subprocess.Popen([sys.executable, "-m", "assembly.cli", "fanout", "--listen", server.listen,
                                "--publish", server.publish_listen, "--workers", "1"],
                               cwd=tmp_path, env=env, start_new_session=True)
    try:
        # The publishers' secret made once in that folder too, which the web processes of `make run` read there.
        secret = tmp_path / "var" / DEV_SECRET_FILE
        await until(lambda: secret.is_file() or process.poll() is not None, timeout=120)
        await answering(replace(server, publish_secret=secret.read_text()), process)
        assert (tmp_path / "var" / "fanout" / "nginx.conf").is_file()
        assert (tmp_path / "var" / "fanout" / "nginx.conf").stat().st_mode & 0o077 == 0  # it holds the secret
        contest = await make_contest(sessions, candidates=2)
        await vote_and_publish(sessions, redis, contest, "01", 2)
        client = await make_client(settings_update={"board_fanout_url": server.publish_url,
                                                    "gateway_data_dir": tmp_path / "var"})
        await until(lambda: client.app[LEADERBOARD_FANOUT].published == 1, timeout=10)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
