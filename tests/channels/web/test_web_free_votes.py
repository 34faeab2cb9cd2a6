"""A free vote on the web: a number proven by a texted code (after the request's proof of work), then one free vote a
day, a second refused with a clear 409; no proof, a blocked address or a contest giving none: a clear 4xx and nothing
recorded; no order and no provider call (MTN faked at the wire records none)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.web.keys import STARTS
from gateway.core.audit import Actor
from gateway.core.phone_texts import TEXT_CODE_PASS
from gateway.core.results import ledger
from gateway.core.voters import blocklist
from gateway.db.engine import Sessions
from gateway.db.models import Contest, FreeVote, VoteOrder
from gateway.jobs.queues import job_queue, sync_redis
from tests.east_africa import kenyan_contest
from tests.factories import make_contest
from tests.fakes.mtn import FakeMtn
from tests.media.code_requests import solve

PHONE = "+237670005501"


@pytest.fixture
async def web(clean: None, settings: Settings) -> AsyncIterator[TestClient]:
    """The app, its code requests' work at 10 bits (solved here in Python)."""
    app = create_app(settings.model_copy(update={"code_work_bits": 10}))
    async with TestClient(TestServer(app)) as client:
        yield client
        await client.app[STARTS].close(grace=0)


def url(contest: Contest, tail: str = "") -> str:
    return f"/api/v1/contests/{contest.slug}/free-votes{tail}"


async def proof_for(web: TestClient, settings: Settings, contest: Contest, phone: str = PHONE) -> dict[str, Any]:
    """The challenge solved, the code asked for, read from the text queued for the worker, and answered."""
    challenge = await (await web.get(url(contest, "/challenge"))).json()
    asked = await web.post(url(contest, "/code"), json={
        "msisdn": phone, "challenge": challenge["challenge"], "nonce": solve(challenge["salt"], challenge["bits"])})
    assert asked.status == 202, await asked.text()
    [job] = [j for j in job_queue(sync_redis(settings.redis_url or "")).get_jobs() if j.args[:1] == [TEXT_CODE_PASS]
             and j.args[1] == phone]
    assert "est votre code pour un vote gratuit" in job.args[2]
    code = re.search(r"\b(\d{6})\b", job.args[2])
    assert code is not None
    answer = await web.post(url(contest, "/proof"), json={"msisdn": phone, "code": code.group(1)})
    assert answer.status == 200, await answer.text()
    return dict(await answer.json())


async def refusal(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    return dict((await response.json())["error"])


async def recorded(sessions: Sessions) -> tuple[int, int]:
    async with sessions() as session:
        free = await session.scalar(select(func.count()).select_from(FreeVote))
        orders = await session.scalar(select(func.count()).select_from(VoteOrder))
    return int(free or 0), int(orders or 0)


async def test_a_proven_number_takes_its_free_vote_and_is_refused_a_second(
        web: TestClient, settings: Settings, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, free_votes_per_day=1)
    proven = await proof_for(web, settings, contest)
    assert (proven["msisdn"], proven["free_votes_left"]) == (PHONE, 1)
    taken = await web.post(url(contest), json={"proof": proven["proof"], "candidate": "03"})
    assert taken.status == 201, await taken.text()
    assert {k: v for k, v in (await taken.json()).items() if k != "free_vote_id"} == {
        "candidate": "03", "candidate_name": "Candidate 03", "free_votes_left": 0, "per": "day"}
    again = await refusal(await web.post(url(contest), json={"proof": proven["proof"], "candidate": "02"}), 409)
    assert again == {"code": "free_vote_used", "message": "This number has taken its free votes for today.",
                     "field": "msisdn"}
    async with sessions() as session:
        [row] = (await session.scalars(select(FreeVote))).all()
    assert (row.msisdn, row.channel, row.voter_address) == (PHONE, "web", "127.0.0.1")
    assert await recorded(sessions) == (1, 0) and fake_mtn.pay_calls == 0
    assert (await ledger.verify(sessions, contest.id)).clean


async def test_no_proof_a_blocked_address_or_no_free_votes_records_nothing(
        web: TestClient, settings: Settings, sessions: Sessions) -> None:
    contest = await make_contest(sessions, free_votes_per_day=1)
    forged = await refusal(await web.post(url(contest), json={"proof": "not-a-proof", "candidate": "01"}), 400)
    assert forged["code"] == "number_not_proven"
    proven = await proof_for(web, settings, contest)
    await blocklist.block_address(sessions, Actor(admin_id=None, email="o@example.org", role="owner"), "127.0.0.0/16",
                                  "test")
    blocked = await refusal(await web.post(url(contest), json={"proof": proven["proof"], "candidate": "01"}), 422)
    assert blocked["code"] == "address_blocked"
    paid_only = await make_contest(sessions)
    assert (await refusal(await web.get(url(paid_only, "/challenge")), 422))["code"] == "no_free_votes"
    assert await recorded(sessions) == (0, 0)


async def test_the_contest_page_links_to_the_free_vote_only_where_the_contest_gives_some(
        web: TestClient, sessions: Sessions) -> None:
    giving = await make_contest(sessions, free_votes_per_day=1)
    paid_only = await make_contest(sessions)
    page = await (await web.get(f"/c/{giving.slug}?lang=fr")).text()
    assert (f'<a href="/c/{giving.slug}/free-vote?lang=fr">Votez gratuitement : chaque numéro de téléphone a des votes '
            "gratuits</a>") in page
    form = await (await web.get(f"/c/{giving.slug}/free-vote?lang=fr")).text()
    assert 'id="phone-form"' in form and '<option value="03">03 Candidate 03</option>' in form
    assert "free-vote" not in await (await web.get(f"/c/{paid_only.slug}?lang=fr")).text()


async def test_a_kenyan_number_typed_as_kenyans_write_it_takes_a_free_vote_in_a_kenyan_contest(
        web: TestClient, settings: Settings, sessions: Sessions) -> None:
    """`0712 000 102` in a Kenyan contest is a Safaricom number, not a Cameroonian one refused: the code is texted
    to it, the proof names it, its free vote is counted."""
    contest = await kenyan_contest(sessions, free_votes_per_day=1)
    challenge = await (await web.get(url(contest, "/challenge"))).json()
    asked = await web.post(url(contest, "/code"), json={
        "msisdn": "0712 000 102", "challenge": challenge["challenge"],
        "nonce": solve(challenge["salt"], challenge["bits"])})
    assert asked.status == 202, await asked.text()
    assert (await asked.json())["sent_to"] == "+254712000102"
    [text] = [j.args[2] for j in job_queue(sync_redis(settings.redis_url or "")).get_jobs()
              if j.args[:2] == [TEXT_CODE_PASS, "+254712000102"]]
    code = re.search(r"\b(\d{6})\b", text)
    assert code is not None
    answer = await web.post(url(contest, "/proof"), json={"msisdn": "0712 000 102", "code": code.group(1)})
    assert answer.status == 200, await answer.text()
    proven = await answer.json()
    assert (proven["msisdn"], proven["free_votes_left"]) == ("+254712000102", 1)
    taken = await web.post(url(contest), json={"proof": proven["proof"], "candidate": "02"})
    assert taken.status == 201, await taken.text()
    async with sessions() as session:
        assert (await session.scalars(select(FreeVote.msisdn))).all() == ["+254712000102"]


async def test_the_free_vote_form_shows_a_number_as_the_contests_country_writes_it(
        web: TestClient, sessions: Sessions) -> None:
    kenyan = await kenyan_contest(sessions, free_votes_per_day=1)
    cameroonian = await make_contest(sessions, free_votes_per_day=1)
    for contest, example in ((kenyan, "0712 123456"), (cameroonian, "6 71 23 45 67")):
        form = await (await web.get(f"/c/{contest.slug}/free-vote?lang=en")).text()
        assert f'autocomplete="tel" required placeholder="{example}">' in form and "+237 6" not in form
