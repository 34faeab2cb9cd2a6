"""The broadcast overlay of a contest decided by the public and a jury: the formula under the title from the start,
nothing of the jury's points before the reveal; after it, the rows in the blend's order with each candidate's parts
and its blended score, as the board's JSON gives them."""

from __future__ import annotations

import asyncio
import time

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from gateway.core.audit import Actor
from gateway.core.contests import jury
from gateway.db.engine import Sessions
from tests.admin.accounts import make_account
from tests.channels.web.test_overlay import overlay, rows
from tests.factories import RULES_OFF, make_contest
from tests.leaderboard.helpers import set_contest, vote_and_publish

OWNER = Actor(None, "owner@example.com", "owner")


async def overlay_when(client: TestClient, path: str, text: str, timeout: float = 10.0) -> str:
    """The overlay once it says `text` (a web process trusts its copy of a contest's board for a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        html = await overlay(client, path)
        if text in html or time.monotonic() > deadline:
            return html
        await asyncio.sleep(0.1)


async def test_the_overlay_says_the_formula_then_after_the_reveal_each_part_in_the_blends_order(
        client: TestClient, sessions: Sessions, redis: Redis) -> None:
    contest = await make_contest(sessions, candidates=3, slug="duo", fraud_rules=RULES_OFF, public_weight_pct=50)
    for code, quantity in (("01", 3), ("02", 1)):
        await vote_and_publish(sessions, redis, contest, code, quantity)
    account = await make_account(sessions, "jury")
    juror = Actor(account.id, account.email, "jury")
    await jury.seat_juror(sessions, OWNER, contest.id, account.email)
    await jury.score(sessions, juror, contest.id, {"01": 0, "02": 10, "03": 0})

    before = await overlay(client, "/c/duo/overlay?lang=en")
    assert '<p class="formula" id="overlay-formula">Result: 50% public + 50% jury</p>' in before
    assert [(row["code"], row["votes"], row["share"]) for row in rows(before)] == [
        ("01", "3 votes", "75.0%"), ("02", "1 vote", "25.0%"), ("03", "0 votes", "0.0%")]
    assert "Jury " not in before.split('id="overlay-formula"')[1].split("<script")[0]  # no jury's share nor point

    await jury.reveal(sessions, OWNER, contest.id, confirmed=True)
    after = await overlay_when(client, "/c/duo/overlay?lang=en", "Public 25.0% · Jury 100.0%")
    # 02: half of 25% + half of 100% = 62.5%; 01: half of 75% = 37.5%.
    assert rows(after) == [
        {"rank": "No. 1", "code": "02", "name": "Candidate 02", "votes": "Public 25.0% · Jury 100.0%",
         "share": "62.5%"},
        {"rank": "No. 2", "code": "01", "name": "Candidate 01", "votes": "Public 75.0% · Jury 0.0%", "share": "37.5%"},
        {"rank": "No. 3", "code": "03", "name": "Candidate 03", "votes": "Public 0.0% · Jury 0.0%", "share": "0.0%"}]
    french = await overlay(client, "/c/duo/overlay?lang=fr")
    assert "Résultat : 50 % public + 50 % jury" in french and "Public 25,0\u202f% · Jury 100,0\u202f%" in french

    await set_contest(sessions, contest, show_counts=False)
    hidden = await overlay_when(client, "/c/duo/overlay?lang=en", '<span class="votes">Jury 100.0%</span>')
    assert [(row["code"], row["votes"], row["share"]) for row in rows(hidden)][0] == ("02", "Jury 100.0%", "")
