"""GET /api/v1/contests/{slug}/leaderboard/stream: Server-Sent Events from confirmation to every viewer."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from assembly.settings import Settings
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.db.models import ContestStatus
from gateway.kit.keys import REDIS, RELAY, SESSIONS
from leaderboard import cache
from leaderboard.cache import refresh_contest, touch
from leaderboard.keys import LEADERBOARD_HUB
from tests.factories import RULES_OFF, make_contest, place, tallies
from tests.leaderboard.conftest import EventReader, MakeClient
from tests.leaderboard.helpers import ARRIVAL, confirmed_vote, set_contest, vote_and_publish
from tests.network import redis_relay
from tests.servers import kill_redis_clients
from tests.waiting import HANG_SECONDS, until

OpenStream = Callable[..., Awaitable[tuple[aiohttp.ClientResponse, EventReader]]]


def votes_of(board: dict[str, object]) -> dict[str, int | None]:
    return {c["code"]: c["votes"] for c in board["candidates"]}  # type: ignore[attr-defined, index]


async def test_first_frame_at_once_with_stream_headers(board_client: TestClient, streams: OpenStream,
                                                       sessions: Sessions, redis: Redis) -> None:
    contest = await make_contest(sessions, candidates=3)
    version = await vote_and_publish(sessions, redis, contest, "02", 4)
    response, reader = await streams(board_client, contest.slug)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    first = await reader.next()
    assert first is not None
    assert (first.event, first.version) == ("leaderboard", version)
    assert reader.retry == 3000
    api = await (await board_client.get(f"/api/v1/contests/{contest.slug}/leaderboard")).json()
    assert first.board == api
    assert votes_of(first.board) == {"02": 4, "01": 0, "03": 0}


async def test_a_confirmed_payment_reaches_the_viewer_through_the_outbox(
    make_client: MakeClient, streams: OpenStream, sessions: Sessions
) -> None:
    """The production path: the payment commits with its outbox row; the relay refreshes the board."""
    client = await make_client(relay=True)
    contest = await make_contest(sessions, candidates=2)
    _, reader = await streams(client, contest.slug)
    first = await reader.next()
    assert first is not None and first.board["total_votes"] == 0
    order = await place(sessions, contest, "02", 3)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, "txn-1",
                                   provider=order.provider)
    started = asyncio.get_running_loop().time()  # the board's second counts from the count's commit
    client.app[RELAY].kick()  # what the payment callback does after a confirmation
    frame = await reader.next(timeout=ARRIVAL)
    assert frame is not None and frame.version > first.version
    assert votes_of(frame.board) == {"02": 3, "01": 0}
    assert asyncio.get_running_loop().time() - started < 1.0


async def test_a_burst_of_1000_confirmations_is_coalesced_and_the_last_frame_is_exact(
    board_client: TestClient, streams: OpenStream, sessions: Sessions, redis: Redis
) -> None:
    # One payer's thousand orders: the fraud rules would hold most of them (tests/core/fraud/test_holds.py).
    contest = await make_contest(sessions, candidates=5, max_votes_per_order=10, fraud_rules=RULES_OFF)
    gate = asyncio.Semaphore(10)

    async def placed(index: int) -> object:
        async with gate:
            return await place(sessions, contest, f"{index % 5 + 1:02d}", index % 3 + 1)

    orders = await asyncio.gather(*(placed(i) for i in range(1000)))
    _, reader = await streams(board_client, contest.slug)
    first = await reader.next()
    assert first is not None

    async def confirm_and_publish(order: object) -> None:
        async with gate:  # ten workers confirming and refreshing at once
            await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", None,  # type: ignore[attr-defined]
                                           provider=order.provider)  # type: ignore[attr-defined]
            await refresh_contest(sessions, redis, contest.id)

    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*(confirm_and_publish(order) for order in orders))
    burst = loop.time() - started
    expected = await tallies(sessions, contest.id)
    total = sum(expected.values())
    assert total == sum(i % 3 + 1 for i in range(1000))
    last = await reader.until(lambda event: event.board["total_votes"] == total, timeout=3)
    # Nothing but the exact board after it: a refresh that read the same tallies at a newer PostgreSQL snapshot
    # (other transactions committed meanwhile) announces it again, as a refresh after a change of the board's
    # settings must (a contest closed, its board unsealed); never an older one.
    await reader.nothing_within(0.6)
    while not reader.events.empty():
        again = reader.events.get_nowait()
        assert again is not None and votes_of(again.board) == votes_of(last.board)
    frames = len(reader.arrivals) - 1
    assert votes_of(last.board) == expected
    # Coalesced: ~4 frames a second at most, however fast the confirmations came. (Not a count of frames: a burst
    # slower than 25 s, on a loaded machine, made 101 frames for 1,000 confirmations, within this rate.)
    assert frames <= burst / 0.25 + 3, (frames, burst)


async def test_last_event_id_resumption(board_client: TestClient, streams: OpenStream, sessions: Sessions,
                                        redis: Redis) -> None:
    """Older id: the current board at once. Same (or newer) id: no duplicate, the next change comes.
    Also after Redis lost everything: the rebuilt board has a newer version than any the viewer saw."""
    contest = await make_contest(sessions, candidates=2)
    old = await vote_and_publish(sessions, redis, contest, "01", 1)
    current = await vote_and_publish(sessions, redis, contest, "02", 2)

    _, behind = await streams(board_client, contest.slug, headers={"Last-Event-ID": str(old)})
    caught_up = await behind.next()
    assert caught_up is not None and caught_up.version == current

    _, same = await streams(board_client, contest.slug, headers={"Last-Event-ID": str(current)})
    _, by_query = await streams(board_client, contest.slug, query=f"?last_event_id={current}")
    assert await same.nothing_within(0.3) and await by_query.nothing_within(0)
    assert same.retry == 3000  # the stream is open, it just had nothing new
    newer = await vote_and_publish(sessions, redis, contest, "01", 5)
    for reader in (same, by_query):
        event = await reader.next(timeout=ARRIVAL)
        assert event is not None and event.version == newer

    await redis.flushdb()  # Redis restarted empty: the board is rebuilt under a still newer version
    _, after_flush = await streams(board_client, contest.slug, headers={"Last-Event-ID": str(newer)})
    rebuilt = await after_flush.next()
    assert rebuilt is not None and rebuilt.version > newer
    assert votes_of(rebuilt.board) == {"01": 6, "02": 2}


async def test_a_slow_viewer_is_dropped_without_stalling_the_others(
    make_client: MakeClient, streams: OpenStream, sessions: Sessions, redis: Redis
) -> None:
    client = await make_client(coalesce_seconds=0.005, queue_size=2, send_buffer_bytes=4096)
    hub = client.app[LEADERBOARD_HUB]
    contest = await make_contest(sessions, candidates=300)  # ~16 KB frames fill small buffers quickly
    await refresh_contest(sessions, redis, contest.id)
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.setblocking(False)
    await asyncio.get_running_loop().sock_connect(slow, (client.host, client.port))
    slow_reader, slow_writer = await asyncio.open_connection(sock=slow)
    slow_writer.write(f"GET /api/v1/contests/{contest.slug}/leaderboard/stream HTTP/1.1\r\n"
                      f"Host: {client.host}\r\n\r\n".encode())  # ... and never read what comes back
    _, fast = await streams(client, contest.slug)
    assert await fast.next() is not None
    latest = 0
    for _ in range(400):
        latest = await touch(redis, contest.id) or latest
        await asyncio.sleep(0.01)
        if hub.dropped:
            break
    assert hub.dropped == 1
    assert hub.viewer_count == 1  # the fast one is still there...
    event = await fast.until(lambda e: e.version == latest, timeout=3)  # ...and has every change
    assert event.version == latest
    after = await touch(redis, contest.id)
    assert (await fast.until(lambda e: e.version == after, timeout=3)).version == after

    async def read_to_the_end() -> None:  # the slow one's connection was cut
        while await slow_reader.read(65536):
            pass

    try:
        await asyncio.wait_for(read_to_the_end(), 5)
    except ConnectionResetError:
        pass
    slow_writer.close()


async def test_two_processes_sharing_redis_both_deliver_a_change_made_through_the_other(
    make_client: MakeClient, streams: OpenStream, sessions: Sessions, redis: Redis
) -> None:
    first, second = await make_client(), await make_client()
    contest = await make_contest(sessions, candidates=2)
    _, on_first = await streams(first, contest.slug)
    _, on_second = await streams(second, contest.slug)
    assert await on_first.next() is not None and await on_second.next() is not None
    for via, code in ((first, "01"), (second, "02")):
        await confirmed_vote(sessions, contest, code, 2)
        version = await refresh_contest(via.app[SESSIONS], via.app[REDIS], contest.id)
        for reader in (on_first, on_second):
            event = await reader.next(timeout=ARRIVAL)
            assert event is not None and event.version == version
            assert event.board["total_votes"] == (2 if code == "01" else 4)


async def test_heartbeats_keep_an_idle_stream_alive(make_client: MakeClient, streams: OpenStream,
                                                    sessions: Sessions) -> None:
    client = await make_client(heartbeat_seconds=0.1)
    contest = await make_contest(sessions)
    _, reader = await streams(client, contest.slug)
    assert await reader.next() is not None
    await until(lambda: reader.comments.count("ping") >= 2, timeout=HANG_SECONDS)
    assert reader.events.empty()  # nothing changed: no board frames, only comments


async def test_a_change_whose_message_was_lost_arrives_with_the_next_heartbeat(
    make_client: MakeClient, streams: OpenStream, sessions: Sessions, redis: Redis
) -> None:
    client = await make_client(heartbeat_seconds=0.2)
    contest = await make_contest(sessions, candidates=2)
    _, reader = await streams(client, contest.slug)
    first = await reader.next()
    assert first is not None
    await redis.zadd(cache.votes_key(contest.id), {"1": 9})  # changed in Redis, but never announced
    await redis.hset(cache.board_key(contest.id), "version", first.version + 1)
    # Only the heartbeat's re-read brings it (nothing announced the change): a bound for a broken heartbeat, long
    # enough for a turn of 0.2 s on CI's busy cores (2 s was not).
    event = await reader.next(timeout=30)
    assert event is not None and event.version == first.version + 1 and event.board["total_votes"] == 9


async def test_shutdown_ends_every_stream_cleanly(make_client: MakeClient, sessions: Sessions) -> None:
    client = await make_client()
    contest = await make_contest(sessions)
    async with aiohttp.ClientSession() as session:
        responses = [await session.get(client.make_url(f"/api/v1/contests/{contest.slug}/leaderboard/stream"))
                     for _ in range(3)]
        readers = [EventReader(response) for response in responses]
        for reader in readers:
            assert await reader.next() is not None
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(client.server.close(), 10)
        assert asyncio.get_running_loop().time() - started < 4  # the 0.5 s grace, not the 30 s heartbeat
        for reader in readers:
            assert await reader.next(timeout=2) is None  # the end of the stream, not an error
            await reader.close()


async def test_a_frozen_board_sends_the_freeze_snapshot_once_then_nothing(
    board_client: TestClient, streams: OpenStream, sessions: Sessions, redis: Redis
) -> None:
    contest = await make_contest(sessions, candidates=2)
    await vote_and_publish(sessions, redis, contest, "01", 3)
    _, reader = await streams(board_client, contest.slug)
    live = await reader.next()
    assert live is not None
    await set_contest(sessions, contest, board_frozen_at=datetime.now(UTC))
    await vote_and_publish(sessions, redis, contest, "02", 10)
    frozen = await reader.next(timeout=ARRIVAL)
    assert frozen is not None and frozen.version > live.version
    assert votes_of(frozen.board) == {"01": 3, "02": 0}
    for _ in range(3):
        await vote_and_publish(sessions, redis, contest, "02", 1)
    assert await reader.nothing_within(0.6)
    _, late = await streams(board_client, contest.slug)
    late_first = await late.next()
    assert late_first is not None and late_first.board == frozen.board


async def test_hidden_counts_on_the_stream(board_client: TestClient, streams: OpenStream, sessions: Sessions,
                                           redis: Redis) -> None:
    contest = await make_contest(sessions, candidates=2, show_counts=False)
    _, reader = await streams(board_client, contest.slug)
    assert await reader.next() is not None
    await vote_and_publish(sessions, redis, contest, "02", 2)
    event = await reader.next(timeout=ARRIVAL)
    assert event is not None
    assert event.board["total_votes"] is None
    assert [(c["code"], c["votes"], c["rank"]) for c in event.board["candidates"]] == [("02", None, 1),
                                                                                       ("01", None, 2)]


async def test_an_organiser_hiding_counts_with_no_new_vote_reaches_open_and_new_streams(
    make_client: MakeClient, streams: OpenStream, sessions: Sessions, redis: Redis
) -> None:
    """Voting has closed, so no vote will move the version: the reveal (or the hiding) must still show."""
    client = await make_client(heartbeat_seconds=0.3)
    contest = await make_contest(sessions, candidates=2)
    version = await vote_and_publish(sessions, redis, contest, "02", 2)
    _, reader = await streams(client, contest.slug)
    first = await reader.next()
    assert first is not None and first.board["total_votes"] == 2
    _, resumed = await streams(client, contest.slug, headers={"Last-Event-ID": str(version)})
    await set_contest(sessions, contest, show_counts=False)
    hidden = await reader.next(timeout=ARRIVAL)
    assert hidden is not None and hidden.version == version and hidden.board["total_votes"] is None
    # It showed this version already, its settings unknown to the server: a re-read before the hiding may send the
    # board again with the counts (routes._send), and the hiding must come after it, at the same version.
    again = await resumed.until(lambda event: event.board["total_votes"] is None, timeout=ARRIVAL)
    assert again.version == version
    _, newcomer = await streams(client, contest.slug)
    joined = await newcomer.next()
    assert joined is not None and joined.board["total_votes"] is None
    assert await reader.nothing_within(0.8)  # said once, not at every heartbeat


async def test_the_subscriber_survives_a_lost_redis_connection(board_client: TestClient, streams: OpenStream,
                                                               sessions: Sessions, redis: Redis) -> None:
    contest = await make_contest(sessions, candidates=2)
    _, reader = await streams(board_client, contest.slug)
    assert await reader.next() is not None
    assert await kill_redis_clients(redis, "pubsub") >= 1
    await asyncio.sleep(0.3)  # Redis restarts; meanwhile a vote is counted and published to nobody
    version = await vote_and_publish(sessions, redis, contest, "02", 1)
    event = await reader.next(timeout=ARRIVAL)  # the resubscribed hub re-reads the board it may have missed
    assert event is not None and event.version == version
    later = await vote_and_publish(sessions, redis, contest, "01", 1)
    event = await reader.next(timeout=ARRIVAL)
    assert event is not None and event.version == later


async def test_a_change_published_while_a_read_of_the_old_board_is_under_way_still_reaches_viewers(
    make_client: MakeClient, streams: OpenStream, sessions: Sessions, redis: Redis, settings: Settings
) -> None:
    """At show load a poller's read is nearly always in flight; the last vote before the close must not
    wait for the next heartbeat because the stream joined a read that began before it."""
    contest = await make_contest(sessions, candidates=2)
    relay, url = await redis_relay(settings.redis_url or "")  # the app's Redis answers come through it
    board_client = await make_client(settings_update={"redis_url": url})
    try:
        _, reader = await streams(board_client, contest.slug)
        first = await reader.next()
        assert first is not None
        await asyncio.sleep(0.5)  # the hub is idle: the re-read it makes when its subscription starts is over
        answer = relay.hold_next_answer(b"\r\nHMGET\r\n")  # the next read of the board comes back late
        poll = asyncio.create_task(board_client.get(f"/api/v1/contests/{contest.slug}/leaderboard"))
        await asyncio.wait_for(answer.arrived.wait(), 5)  # a read of the board as it was, finishing late
        await vote_and_publish(sessions, redis, contest, "02", 2)
        await asyncio.sleep(0.5)  # the stream's pump has run by now, and waits on the read under way
        answer.release()
        await poll
        event = await reader.next(timeout=ARRIVAL)  # heartbeats here are 30 s apart
        assert event is not None and votes_of(event.board) == {"01": 0, "02": 2}
    finally:
        await board_client.close()
        await relay.close()


async def test_a_board_sealed_mid_show_reaches_open_and_resuming_streams_then_opens_at_close(
    make_client: MakeClient, streams: OpenStream, sessions: Sessions, redis: Redis
) -> None:
    """Sealing drops the board to version 0 (its version would count votes), yet every viewer must see it."""
    client = await make_client(heartbeat_seconds=0.3)
    contest = await make_contest(sessions, candidates=2)
    version = await vote_and_publish(sessions, redis, contest, "02", 7)
    _, reader = await streams(client, contest.slug)
    first = await reader.next()
    assert first is not None and first.board["total_votes"] == 7
    await set_contest(sessions, contest, board_sealed=True)
    sealed = await reader.next(timeout=ARRIVAL)
    assert sealed is not None and sealed.version == 0
    assert sealed.board["sealed"] is True and sealed.board["candidates"] == []
    _, resumed = await streams(client, contest.slug, headers={"Last-Event-ID": str(version)})
    again = await resumed.next()
    assert again is not None and again.board["sealed"] is True
    await vote_and_publish(sessions, redis, contest, "01", 3)
    assert await reader.nothing_within(0.8)  # a vote on a sealed board sends nothing, not even its timing
    await set_contest(sessions, contest, status=ContestStatus.CLOSED)
    opened = await reader.next(timeout=ARRIVAL)
    assert opened is not None and opened.board["total_votes"] == 10 and opened.board["sealed"] is False
