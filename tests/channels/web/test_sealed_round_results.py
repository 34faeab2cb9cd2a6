"""A sealed show's rounds: each round's signed sheet holds its counts, so it stays unpublished, as the board does,
until the organiser closes the contest; an open board's round sheet is public once the round is decided."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient
from sqlalchemy import update

from gateway.core.contests import rounds
from gateway.core.results import round_sheets
from gateway.db.engine import Sessions
from gateway.db.models import Contest, ContestStatus
from gateway.kit.keys import RESULTS_KEY
from tests.show_rounds import OWNER, a_show, paid_votes, reloaded


async def a_decided_heats(client: TestClient, sessions: Sessions, *, sealed: bool) -> Contest:
    contest, _ = await a_show(sessions)
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == contest.id).values(board_sealed=sealed))
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    await paid_votes(sessions, await reloaded(sessions, contest), {"01": 5, "02": 3})
    closed_at = await rounds.close_lines(sessions, OWNER, contest.id)
    await rounds.decide_round(sessions, OWNER, contest.id, 1, places=2, now=closed_at + rounds.DEFAULT_LATE_GRACE)
    await round_sheets.sign_round(sessions, client.app[RESULTS_KEY], contest.id, 1, signed_by="test")
    return contest


async def test_a_sealed_shows_round_results_wait_for_the_contests_close(client: TestClient,
                                                                      sessions: Sessions) -> None:
    contest = await a_decided_heats(client, sessions, sealed=True)
    for path in (f"/c/{contest.slug}/rounds/1/results.csv", f"/c/{contest.slug}/rounds/1/results.csv.sig"):
        refused = await client.get(path)
        assert refused.status == 404, path  # the heats' counts would unseal the board mid-show
        assert (await refused.json())["error"]["code"] == "results_not_published"
    async with sessions.begin() as session:  # the organiser closes the contest: its board opens, and so do they
        await session.execute(update(Contest).where(Contest.id == contest.id).values(status=ContestStatus.CLOSED))
    async with asyncio.timeout(30):  # the web process keeps a contest's terms a few seconds
        while (sheet := await client.get(f"/c/{contest.slug}/rounds/1/results.csv")).status != 200:
            await asyncio.sleep(0.2)
    assert b"01" in await sheet.read()


async def test_an_open_boards_round_results_are_public_once_decided(client: TestClient, sessions: Sessions) -> None:
    contest = await a_decided_heats(client, sessions, sealed=False)
    assert (await client.get(f"/c/{contest.slug}/rounds/1/results.csv")).status == 200
    assert (await client.get(f"/c/{contest.slug}/rounds/1/results.csv.sig")).status == 200
