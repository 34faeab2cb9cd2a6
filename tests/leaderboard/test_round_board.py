"""The board of a show in rounds: it shows the open round's candidates only, each from zero (or from the previous
round's figures when the round carries the counts), names the round, and once a producer closes the lines with a
countdown every viewer on the stream is told when they close, within a second, even where the contest's settings are
cached."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from gateway.core.contests import rounds
from gateway.db.engine import Sessions
from leaderboard.cache import refresh_contest
from tests.admin.accounts import api_tokens, bearer, make_account
from tests.leaderboard.conftest import EventReader, MakeClient
from tests.leaderboard.helpers import ARRIVAL
from tests.show_rounds import OWNER, a_show, paid_votes, reloaded

OpenStream = Callable[..., Awaitable[tuple[aiohttp.ClientResponse, EventReader]]]


def votes_of(board: dict[str, object]) -> dict[str, int]:
    return {c["code"]: c["votes"] for c in board["candidates"]}  # type: ignore[attr-defined, index]


async def test_the_board_shows_the_open_rounds_candidates_from_zero_and_names_the_round(
        board_client: TestClient, sessions: Sessions, redis: Redis) -> None:
    contest, _ = await a_show(sessions)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    await paid_votes(sessions, await reloaded(sessions, contest), {"01": 5, "02": 3, "03": 1, "04": 1})
    closed_at = await rounds.close_lines(sessions, OWNER, contest.id)
    await rounds.decide_round(sessions, OWNER, contest.id, 1, places=2, now=closed_at + rounds.DEFAULT_LATE_GRACE)
    await rounds.open_round(sessions, OWNER, contest.id, 2)
    await paid_votes(sessions, await reloaded(sessions, contest), {"02": 2})
    await refresh_contest(sessions, redis, contest.id)
    board = await (await board_client.get(f"/api/v1/contests/{contest.slug}/leaderboard")).json()
    assert board["round"] == {"number": 2, "name": "Final"}
    assert votes_of(board) == {"02": 2, "01": 0}  # 03 and 04 left in the heats; the heats' votes stay theirs
    assert board["total_votes"] == 2 and "lines_close_at" not in board  # its close is hours away


async def test_a_countdown_reaches_every_viewer_at_once(make_client: MakeClient, streams: OpenStream,
                                                       sessions: Sessions) -> None:
    """Published as it is set: not with the contest's next read (its settings cached a minute) nor the stream's next
    heartbeat (30 s here), so the frame's wait is bounded well under either, with room for a busy machine."""
    client = await make_client(contest_ttl_seconds=60.0)  # the contest's settings cached, as in production
    contest, _ = await a_show(sessions)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    _, reader = await streams(client, contest.slug)
    first = await reader.next()
    assert first is not None and "lines_close_at" not in first.board
    headers = bearer(await api_tokens(client, await make_account(sessions, "owner", "producer@example.com")))
    closed = await client.post(f"/api/v1/admin/contests/{contest.id}/lines/close", json={"countdown_seconds": 60},
                               headers=headers)
    assert closed.status == 200
    closes_at = datetime.fromisoformat((await closed.json())["closes_at"])
    frame = await reader.until(lambda event: "lines_close_at" in event.board, timeout=ARRIVAL)
    assert datetime.fromisoformat(str(frame.board["lines_close_at"])) == closes_at.replace(microsecond=0)
    assert timedelta(seconds=55) < closes_at - datetime.now(UTC) <= timedelta(seconds=60)
