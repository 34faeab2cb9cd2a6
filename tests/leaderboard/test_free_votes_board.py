"""The board and free votes: counted, they add to a candidate's figure; apart, each candidate shows `free_votes`
beside its paid `votes`, ranked by the paid ones. A free vote's news refreshes the board as a paid vote's does."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from gateway.core.contests import rounds
from gateway.core.orders.free_votes import FreeVoteRequest, take_free_vote
from gateway.db.engine import Sessions
from leaderboard import cache
from tests.factories import make_contest
from tests.leaderboard.conftest import MakeClient
from tests.leaderboard.helpers import set_contest, vote_and_publish
from tests.show_rounds import OWNER, a_show, paid_votes, reloaded


def url(slug: str) -> str:
    return f"/api/v1/contests/{slug}/leaderboard"


async def free_vote(sessions: Sessions, slug: str, code: str, number: int) -> None:
    await take_free_vote(sessions, FreeVoteRequest(slug, code, f"+23767200{number:04d}", "ussd"))


async def board_when(client: TestClient, slug: str, wanted: Any, seconds: float = 15.0) -> dict[str, Any]:
    """The board once `wanted(board)` holds (the relay refreshes it on its own)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        body: dict[str, Any] = await (await client.get(url(slug))).json()
        if wanted(body) or asyncio.get_running_loop().time() > deadline:
            return body
        await asyncio.sleep(0.05)


def figures(body: dict[str, Any], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(candidate.get(key) for key in ("code", *keys)) for candidate in body["candidates"]]


async def test_counted_free_votes_move_the_board_as_paid_ones_do(make_client: MakeClient, sessions: Sessions,
                                                                 redis: Redis) -> None:
    client = await make_client(relay=True)
    contest = await make_contest(sessions, candidates=3, free_votes_per_day=1, free_vote_weight="counted")
    await vote_and_publish(sessions, redis, contest, "01", 2)
    for number in range(3):
        await free_vote(sessions, contest.slug, "02", number)
    body = await board_when(client, contest.slug, lambda b: b["total_votes"] == 5)
    assert figures(body, "votes", "rank") == [("02", 3, 1), ("01", 2, 2), ("03", 0, 3)]
    assert all("free_votes" not in candidate for candidate in body["candidates"])


async def test_free_votes_shown_apart_are_beside_the_paid_count(make_client: MakeClient, sessions: Sessions,
                                                                redis: Redis) -> None:
    client = await make_client(relay=True)
    contest = await make_contest(sessions, candidates=3, free_votes_per_day=1, free_vote_weight="apart")
    await vote_and_publish(sessions, redis, contest, "01", 2)
    body = await board_when(client, contest.slug, lambda b: b["total_votes"] == 2)
    assert figures(body, "votes", "free_votes") == [("01", 2, 0), ("02", 0, 0), ("03", 0, 0)]
    for number in range(3):
        await free_vote(sessions, contest.slug, "02", number)
    body = await board_when(client, contest.slug, lambda b: b["candidates"][1].get("free_votes") == 3)
    assert figures(body, "votes", "free_votes", "rank") == [("01", 2, 0, 1), ("02", 0, 3, 2), ("03", 0, 0, 2)]
    assert body["total_votes"] == 2  # the paid votes: free ones shown apart are never added
    await set_contest(sessions, contest, show_counts=False)
    hidden = (await (await client.get(url(contest.slug))).json())["candidates"]
    assert {(c["votes"], c["free_votes"]) for c in hidden} == {(None, None)}


async def test_a_frozen_board_counts_the_free_votes_taken_before_the_freeze(make_client: MakeClient,
                                                                             sessions: Sessions) -> None:
    client = await make_client()
    counted = await make_contest(sessions, candidates=2, free_votes_per_day=1, free_vote_weight="counted")
    apart = await make_contest(sessions, candidates=2, free_votes_per_day=1, free_vote_weight="apart")
    for contest in (counted, apart):
        await free_vote(sessions, contest.slug, "02", 1)
    frozen_at = datetime.now(UTC)
    for contest in (counted, apart):
        await set_contest(sessions, contest, board_frozen_at=frozen_at)
        await free_vote(sessions, contest.slug, "01", 2)  # after the freeze: on no frozen board
    board = await (await client.get(url(counted.slug))).json()
    assert figures(board, "votes") == [("02", 1), ("01", 0)]
    board = await (await client.get(url(apart.slug))).json()
    assert figures(board, "votes", "free_votes") == [("01", 0, 0), ("02", 0, 1)]
    # Without Redis, the frozen board read from PostgreSQL says the same: one free vote, none paid.
    without_redis = await cache.tallies_from_postgres(sessions, apart.id, frozen_at)
    assert (list(without_redis.free.values()), sum(without_redis.votes.values())) == ([1], 0)


async def test_a_show_in_rounds_counts_each_rounds_free_votes_on_its_own_board(
        board_client: TestClient, sessions: Sessions, redis: Redis) -> None:
    contest, _ = await a_show(sessions)
    await set_contest(sessions, contest, free_votes_per_day=1, free_votes_per="round", free_vote_weight="counted")
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    await paid_votes(sessions, await reloaded(sessions, contest), {"01": 5, "02": 3, "03": 1, "04": 1})
    for number in range(2):
        await free_vote(sessions, contest.slug, "02", number)  # the heats' free votes
    await cache.refresh_contest(sessions, redis, contest.id)
    heats = await (await board_client.get(url(contest.slug))).json()
    assert {c["code"]: c["votes"] for c in heats["candidates"]} == {"01": 5, "02": 5, "03": 1, "04": 1}
    closed_at = await rounds.close_lines(sessions, OWNER, contest.id)
    await rounds.decide_round(sessions, OWNER, contest.id, 1, places=2, now=closed_at + rounds.DEFAULT_LATE_GRACE)
    await rounds.open_round(sessions, OWNER, contest.id, 2)
    await free_vote(sessions, contest.slug, "01", 0)  # the same number: a new round, a new free vote
    await cache.refresh_contest(sessions, redis, contest.id)
    final = await (await board_client.get(url(contest.slug))).json()
    assert {c["code"]: c["votes"] for c in final["candidates"]} == {"01": 1, "02": 0}  # from zero: the heats' stay
