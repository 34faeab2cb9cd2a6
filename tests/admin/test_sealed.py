"""A board sealed until close shows no count (and no ranking) anywhere public: the web page and its
board frame, the board API and its stream, USSD's top screen, SMS TOP and Telegram's /top. Once the
contest is closed, the counts show as on any board (USSD and the bot offer no closed contest at all)."""

from __future__ import annotations

import asyncio
import json
import re

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from assembly.worker.job_runtime import JobContext
from channels.telegram.fake_api import FakeBotApi
from gateway.db.engine import Sessions
from gateway.db.models import Contest, ContestStatus
from leaderboard.cache import refresh_contest
from tests.channels.sms.test_voting import handle, prefer_english, receive
from tests.factories import make_contest
from tests.fakes.africastalking import FakeAt
from tests.leaderboard.helpers import confirmed_vote, set_contest
from tests.waiting import HANG_SECONDS, until_true

SEALED_SMS = "The results are sealed until voting is closed."
CONTEST_TTL = 2.1  # how long a web process trusts its copy of a board's settings (StreamConfig)


async def sealed_contest(sessions: Sessions, redis: Redis) -> Contest:
    contest = await make_contest(sessions, candidates=3, board_sealed=True, name="Sealed Gala",
                                 sms_short_code="20123", ussd_service_codes=["*384*555#"], stars_per_vote=10)
    for code, quantity in (("02", 97), ("02", 97), ("03", 58)):
        await confirmed_vote(sessions, contest, code, quantity)
    await refresh_contest(sessions, redis, contest.id)
    return contest


async def first_event(client: TestClient, slug: str) -> dict[str, object]:
    """The stream's first board frame."""
    async with client.get(f"/api/v1/contests/{slug}/leaderboard/stream") as response:
        assert response.status == 200
        text = ""
        while "data:" not in text or not text.endswith("\n\n"):
            text += (await asyncio.wait_for(response.content.readany(), 3)).decode()
    data = next(line[5:] for line in text.splitlines() if line.startswith("data:"))
    board: dict[str, object] = json.loads(data)
    return board


async def ussd_top(client: TestClient, session_id: str) -> str:
    form = {"sessionId": session_id, "serviceCode": "*384*555#", "phoneNumber": "+237670000001",
            "networkCode": "62401"}
    await client.post("/ussd/africastalking", data={**form, "text": ""})
    return await (await client.post("/ussd/africastalking", data={**form, "text": "2"})).text()


async def sms_top(client: TestClient, sessions: Sessions, job: JobContext, fake_at: FakeAt, at_id: str) -> str:
    await handle(job, await receive(client, sessions, "TOP", at_id))
    return fake_at.texts()[-1]


async def test_a_sealed_board_leaks_no_count_on_any_channel_until_the_contest_closes(
        bot_client: TestClient, sessions: Sessions, redis: Redis, job: JobContext, fake_at: FakeAt,
        telegram: FakeBotApi) -> None:
    client = bot_client
    contest = await sealed_contest(sessions, redis)
    await prefer_english(sessions)
    counts = re.compile(r"\b(194|97|58|252)\b")

    def shows_a_count(text: str) -> bool:
        """A count in `text`, its links left out: the contest's slug carries its id (contest-97), any number."""
        return counts.search(text.replace(contest.slug, "")) is not None

    page = await (await client.get(f"/c/{contest.slug}?lang=en")).text()
    assert "The results are sealed until voting is closed." in page
    assert 'class="row"' not in page and not shows_a_count(page.split('id="board"')[1])
    frame = await (await client.get(f"/c/{contest.slug}/board?lang=en")).text()
    assert 'class="row"' not in frame and not shows_a_count(frame)
    board = await (await client.get(f"/api/v1/contests/{contest.slug}/leaderboard")).json()
    assert board == {"contest": contest.slug, "version": 0, "updated_at": None, "sealed": True,
                     "total_votes": None, "candidates": [], "overlay": {"shown": True, "layout": None}}
    streamed = await first_event(client, contest.slug)
    assert streamed == board
    ussd = await ussd_top(client, "ATUid_sealed_1")
    assert ussd.startswith("CON Top 5 - Sealed Gala") and "hidden until the results" in ussd
    assert not shows_a_count(ussd)
    assert await sms_top(client, sessions, job, fake_at, "ATXid_sealed_1") == SEALED_SMS
    await telegram.say(777, "/top")
    assert telegram.last_message(777).text == "Top 5 - Sealed Gala\nThe results are sealed until voting is closed."

    await set_contest(sessions, contest, status=ContestStatus.CLOSED)
    async def unsealed() -> bool:  # the web process's copy of the board's settings lasts CONTEST_TTL
        return not (await (await client.get(f"/api/v1/contests/{contest.slug}/leaderboard")).json())["sealed"]

    await until_true(unsealed, "the board stayed sealed after the contest closed", CONTEST_TTL + HANG_SECONDS)
    board = await (await client.get(f"/api/v1/contests/{contest.slug}/leaderboard")).json()
    assert board["total_votes"] == 252
    assert [(c["code"], c["votes"], c["rank"]) for c in board["candidates"]] == [
        ("02", 194, 1), ("03", 58, 2), ("01", 0, 3)]
    assert (await first_event(client, contest.slug))["total_votes"] == 252
    page = await (await client.get(f"/c/{contest.slug}?lang=en")).text()
    assert 'data-votes="194"' in page and '<p class="note" id="board-sealed" hidden>' in page
    assert "194" in await sms_top(client, sessions, job, fake_at, "ATXid_sealed_2")
