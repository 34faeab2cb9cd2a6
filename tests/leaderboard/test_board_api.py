"""GET /api/v1/contests/{slug}/leaderboard: the JSON board, ETag/304, visibility, rebuilds from PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from assembly.settings import Settings
from gateway.db.engine import Sessions, create_engine, session_factory
from gateway.db.models import CandidateStatus, ContestStatus, VoteOrder
from leaderboard import cache
from leaderboard.rebuild import rebuild_all
from tests.factories import make_contest
from tests.leaderboard.conftest import MakeClient
from tests.leaderboard.helpers import confirmed_vote, set_contest, vote_and_publish
from tests.network import postgres_relay


def url(slug: str) -> str:
    return f"/api/v1/contests/{slug}/leaderboard"


async def test_board_json_and_etag(board_client: TestClient, sessions: Sessions, redis: Redis) -> None:
    contest = await make_contest(sessions, candidates=4)
    await vote_and_publish(sessions, redis, contest, "02", 5)
    await vote_and_publish(sessions, redis, contest, "03", 5)
    version = await vote_and_publish(sessions, redis, contest, "01", 2)
    response = await board_client.get(url(contest.slug))
    assert response.status == 200
    assert response.headers["ETag"].startswith(f'"{version}-')
    assert response.headers["Cache-Control"] == "no-cache"
    body = await response.json()
    assert set(body) == {"contest", "version", "updated_at", "sealed", "total_votes", "candidates", "overlay"}
    assert (body["contest"], body["version"], body["total_votes"]) == (contest.slug, version, 12)
    assert datetime.fromisoformat(body["updated_at"]) > datetime.now(UTC) - timedelta(minutes=1)
    assert [(c["code"], c["name"], c["votes"], c["rank"]) for c in body["candidates"]] == [
        ("02", "Candidate 02", 5, 1), ("03", "Candidate 03", 5, 1), ("01", "Candidate 01", 2, 3),
        ("04", "Candidate 04", 0, 4),
    ]
    again = await board_client.get(url(contest.slug), headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304 and again.headers["ETag"] == response.headers["ETag"]
    newer = await vote_and_publish(sessions, redis, contest, "04", 1)
    changed = await board_client.get(url(contest.slug), headers={"If-None-Match": response.headers["ETag"]})
    assert changed.status == 200 and changed.headers["ETag"].startswith(f'"{newer}-')


async def test_unknown_and_draft_contests_are_not_found(board_client: TestClient, sessions: Sessions) -> None:
    draft = await make_contest(sessions, status=ContestStatus.DRAFT)
    for slug in ("nope", draft.slug):
        response = await board_client.get(url(slug))
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "contest_not_found"
        stream = await board_client.get(url(slug) + "/stream")
        assert stream.status == 404


async def test_hidden_candidates_never_show_eliminated_ones_do(board_client: TestClient, sessions: Sessions,
                                                               redis: Redis) -> None:
    contest = await make_contest(sessions, candidates=3, candidate_status={
        "02": CandidateStatus.ELIMINATED, "03": CandidateStatus.HIDDEN})
    await vote_and_publish(sessions, redis, contest, "01", 1)
    body = await (await board_client.get(url(contest.slug))).json()
    assert [c["code"] for c in body["candidates"]] == ["01", "02"]


async def test_hidden_counts_show_ranks_only(board_client: TestClient, sessions: Sessions, redis: Redis) -> None:
    contest = await make_contest(sessions, candidates=3, show_counts=False)
    version = await vote_and_publish(sessions, redis, contest, "03", 4)
    response = await board_client.get(url(contest.slug))
    body = await response.json()
    assert body["total_votes"] is None
    assert [(c["code"], c["votes"], c["rank"]) for c in body["candidates"]] == [
        ("03", None, 1), ("01", None, 2), ("02", None, 2)]
    assert response.headers["ETag"].startswith(f'"{version}-')
    await set_contest(sessions, contest, show_counts=True)  # the organiser shows them again: a new ETag
    shown = await board_client.get(url(contest.slug), headers={"If-None-Match": response.headers["ETag"]})
    assert shown.status == 200 and (await shown.json())["total_votes"] == 4


async def test_frozen_board_shows_the_tallies_of_the_freeze_moment(board_client: TestClient, sessions: Sessions,
                                                                  redis: Redis) -> None:
    contest = await make_contest(sessions, candidates=2)
    live_version = await vote_and_publish(sessions, redis, contest, "01", 3)
    await set_contest(sessions, contest, board_frozen_at=datetime.now(UTC))
    await vote_and_publish(sessions, redis, contest, "02", 10)  # after the freeze: counted, not shown
    frozen = await (await board_client.get(url(contest.slug))).json()
    assert frozen["version"] > live_version
    assert frozen["total_votes"] == 3
    assert [(c["code"], c["votes"]) for c in frozen["candidates"]] == [("01", 3), ("02", 0)]
    await vote_and_publish(sessions, redis, contest, "02", 1)
    assert await (await board_client.get(url(contest.slug))).json() == frozen  # frozen means frozen
    await set_contest(sessions, contest, board_frozen_at=None)  # unfrozen: live again, under a newer version
    live = await (await board_client.get(url(contest.slug))).json()
    assert live["version"] > frozen["version"]
    assert [(c["code"], c["votes"]) for c in live["candidates"]] == [("02", 11), ("01", 3)]


async def test_a_freeze_in_the_future_is_not_yet_applied(board_client: TestClient, sessions: Sessions,
                                                         redis: Redis) -> None:
    contest = await make_contest(sessions, candidates=2, board_frozen_at=datetime.now(UTC) + timedelta(hours=3))
    version = await vote_and_publish(sessions, redis, contest, "02", 2)
    body = await (await board_client.get(url(contest.slug))).json()
    assert (body["version"], body["total_votes"]) == (version, 2)


async def test_board_missing_from_redis_is_rebuilt_from_postgres_with_a_newer_version(
    board_client: TestClient, sessions: Sessions, redis: Redis
) -> None:
    contest = await make_contest(sessions, candidates=2)
    before = await vote_and_publish(sessions, redis, contest, "02", 7)
    await confirmed_vote(sessions, contest, "01", 1)  # committed, but its refresh never ran
    await redis.flushdb()
    body = await (await board_client.get(url(contest.slug))).json()
    assert body["version"] > before  # the clock-based version keeps increasing after a flush
    assert [(c["code"], c["votes"]) for c in body["candidates"]] == [("02", 7), ("01", 1)]
    assert await cache.cached_votes(redis, contest.id) != {}


BLOCKED_TALLY_READS = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock' AND query LIKE '%FROM tallies%'")


async def test_an_app_stopped_during_a_board_read_leaves_no_database_connection_behind(
    make_client: MakeClient, sessions: Sessions, redis: Redis, engine: AsyncEngine
) -> None:
    """A board read is shared by every caller and outlives the ones that hang up. A web process stopping
    (a deploy) while one is under way must not leave its PostgreSQL connection open after the engine is
    gone: nothing would close it but the garbage collector, at some random later moment."""
    contest = await make_contest(sessions, candidates=2)
    await redis.flushdb()  # the board is rebuilt from PostgreSQL at the next read
    client = await make_client()
    async with engine.connect() as locker:
        await locker.execute(text("LOCK TABLE tallies IN ACCESS EXCLUSIVE MODE"))  # the read waits behind it
        poll = asyncio.create_task(client.get(url(contest.slug)))
        blocked: list[int] = []
        async with asyncio.timeout(5):
            while not blocked:
                await asyncio.sleep(0.02)
                async with engine.connect() as connection:
                    blocked = list(await connection.scalars(BLOCKED_TALLY_READS))
        await client.close()  # the viewer hangs up, the process stops while its read is still waiting
        with contextlib.suppress(aiohttp.ClientError):
            await poll
        await locker.rollback()  # the lock goes: the read finishes now, unless stopping ended it
    async with engine.connect() as connection:
        for _ in range(100):  # 5 s for PostgreSQL to see the connection closed
            left = await connection.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                                           {"pids": blocked})
            if not left:
                break
            await asyncio.sleep(0.05)
    assert not left, "the stopped app's connection is still open, left to the garbage collector"


async def test_rebuild_all_from_postgres(sessions: Sessions, redis: Redis) -> None:
    first = await make_contest(sessions, candidates=2)
    second = await make_contest(sessions, candidates=2)
    old = await vote_and_publish(sessions, redis, first, "01", 2)
    await confirmed_vote(sessions, second, "02", 3)
    await redis.flushdb()
    rebuilt = await rebuild_all(sessions, redis)
    assert set(rebuilt) == {first.slug, second.slug}
    assert rebuilt[first.slug] > old
    assert sorted((await cache.cached_votes(redis, second.id)).values()) == [0, 3]


async def test_an_older_read_never_replaces_a_newer_board(sessions: Sessions, redis: Redis) -> None:
    """Two workers race: the one that read PostgreSQL first must not overwrite the other's board."""
    contest = await make_contest(sessions, candidates=2)
    stale_votes, stale_mark = await cache.read_tallies(sessions, contest.id)
    await vote_and_publish(sessions, redis, contest, "01", 5)
    newer = await cache.read_live(redis, contest.id)
    assert newer is not None
    assert await cache.store_tallies(redis, contest.id, stale_votes, stale_mark) == newer.tallies.version
    assert sum((await cache.cached_votes(redis, contest.id)).values()) == 5
    forced = await cache.store_tallies(redis, contest.id, stale_votes, stale_mark, force=True)
    assert forced > newer.tallies.version
    assert sum((await cache.cached_votes(redis, contest.id)).values()) == 0


async def test_a_board_says_it_stands_where_its_tallies_were_read_not_where_they_reached_redis(
        board_client: TestClient, sessions: Sessions, redis: Redis) -> None:
    """A board's `updated_at` tells which votes it holds: every vote counted before it. A vote counted between the
    read of the tallies and their store in Redis (a busy process takes up to seconds) is not on the board, and the
    board must not claim it: the rehearsal's figure of a frame's lateness takes each vote's frame to be the first
    whose `updated_at` follows its count."""
    contest = await make_contest(sessions, candidates=2)
    await confirmed_vote(sessions, contest, "01", 2)
    votes, mark = await cache.read_tallies(sessions, contest.id)
    await confirmed_vote(sessions, contest, "02", 3)  # counted after the read, before the store
    await cache.store_tallies(redis, contest.id, votes, mark)
    async with sessions() as session:
        counted_after = await session.scalar(select(func.max(VoteOrder.decided_at))
                                             .where(VoteOrder.contest_id == contest.id))
    board = await (await board_client.get(url(contest.slug))).json()
    assert {row["code"]: row["votes"] for row in board["candidates"]} == {"01": 2, "02": 0}
    assert counted_after is not None and datetime.fromisoformat(board["updated_at"]) < counted_after


async def test_a_vote_stamped_before_the_freeze_but_committed_just_after_is_on_the_frozen_board(
        sessions: Sessions, redis: Redis) -> None:
    """A confirmation waits on the tally row across the freeze moment: it belongs to the frozen board."""
    contest = await make_contest(sessions, candidates=2)
    await confirmed_vote(sessions, contest, "01", 3)
    frozen_at = datetime.now(UTC)
    early = await cache.frozen_tallies(sessions, redis, contest.id, frozen_at, now=frozen_at)
    assert sum(early.votes.values()) == 3
    same = await cache.frozen_tallies(sessions, redis, contest.id, frozen_at, now=frozen_at + timedelta(seconds=1))
    assert same == early  # nothing changed: the same version, no new frame
    await confirmed_vote(sessions, contest, "02", 2)  # committed now, stamped before the freeze:
    async with sessions.begin() as session:
        await session.execute(text("UPDATE vote_orders SET decided_at = :at WHERE quantity = 2"),
                              {"at": frozen_at - timedelta(milliseconds=5)})
    final = await cache.frozen_tallies(sessions, redis, contest.id, frozen_at, now=frozen_at + timedelta(seconds=11))
    assert sum(final.votes.values()) == 5 and final.version > early.version
    await confirmed_vote(sessions, contest, "02", 1)  # committed after the settle time: the snapshot is final
    async with sessions.begin() as session:
        await session.execute(text("UPDATE vote_orders SET decided_at = :at WHERE quantity = 1"),
                              {"at": frozen_at - timedelta(milliseconds=5)})
    later = frozen_at + timedelta(hours=1)
    assert await cache.frozen_tallies(sessions, redis, contest.id, frozen_at, now=later) == final


async def test_freeze_snapshot_reads_finishing_out_of_order_never_put_fewer_votes_on_top(
        sessions: Sessions, redis: Redis, settings: Settings) -> None:
    contest = await make_contest(sessions, candidates=2)
    await confirmed_vote(sessions, contest, "01", 3)
    # The late vote must be paid before the freeze moment: a minute leaves room for a loaded machine's set-up.
    frozen_at = datetime.now(UTC) + timedelta(minutes=1)
    relay, url = await postgres_relay(settings.database_url or "")  # read A's answers come through it
    engine = create_engine(url, pool_size=1, max_overflow=0)
    slow = session_factory(engine)
    try:
        await cache.paid_votes_at(slow, contest.id, frozen_at)  # its connection and statement are ready
        answer = relay.hold_next_answer()
        read_a = asyncio.create_task(cache.frozen_tallies(slow, redis, contest.id, frozen_at, now=frozen_at))
        await asyncio.wait_for(answer.arrived.wait(), 5)  # read A has counted, before a late vote
        await confirmed_vote(sessions, contest, "02", 2)
        fresh = await cache.frozen_tallies(sessions, redis, contest.id, frozen_at, now=frozen_at)  # read B
        assert sum(fresh.votes.values()) == 5
        answer.release()
        late = await asyncio.wait_for(read_a, 5)  # A finishes last
    finally:
        await engine.dispose()
        await relay.close()
    final = await cache.frozen_tallies(sessions, redis, contest.id, frozen_at, now=frozen_at + timedelta(seconds=11))
    assert late == fresh and final == fresh
