"""The contest page as a voter meets it: the live ranking near the top, above the candidates' cards, and a vote that
starts from a card: a tap on a candidate's card brings the form with them chosen, the number of votes and the payment
next, without picking them again from a list. Plain links and a plain form: no script needed."""

from __future__ import annotations

import re
import uuid

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import Candidate
from tests.channels.web.contest_form import FORM_ID, TOKEN
from tests.factories import make_contest


async def test_the_ranking_comes_before_the_candidates_cards_and_each_card_starts_a_vote(
        client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala", name="Gala 2026", candidates=4)
    html = await (await client.get("/c/gala", params={"lang": "en"})).text()
    assert html.index('id="board"') < html.index('class="cand-list"') < html.index('id="vote-form"')
    cards = re.findall(r'<a class="card-vote" href="([^"]+)">', html)
    assert cards == [f"/c/gala?candidate=0{i}#vote" for i in range(1, 5)]
    assert all(f'<a class="card-page" href="/c/gala/0{i}">Their page</a>' in html for i in range(1, 5))
    assert html.count('name="candidate"') == 4  # no card tapped: the form offers every candidate


async def test_a_tapped_card_brings_the_form_with_its_candidate_alone_and_the_vote_goes_to_them(
        client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala", name="Gala 2026", candidates=4)
    response = await client.get("/c/gala?candidate=03", params={"lang": "en"})
    html = await response.text()
    radios = re.findall(r'<input type="radio" name="candidate"[^>]*>', html)
    assert len(radios) == 1 and 'value="03"' in radios[0] and "checked" in radios[0]
    assert '<a href="/c/gala#cands-h">Choose another candidate</a>' in html
    assert 'id="quantity"' in html and 'name="provider"' in html  # what follows: how many, and how to pay
    assert 'class="cand-card chosen" data-code="03"' in html
    token, form_id = TOKEN.search(html), FORM_ID.search(html)
    assert token and form_id
    vote = {"candidate": "03", "quantity": "2", "provider": "mtn", "msisdn": "6 70 00 00 01",
            "csrf_token": token.group(1), "form_id": form_id.group(1)}
    posted = await client.post("/c/gala/vote", data=vote, allow_redirects=False)
    assert posted.status == 303
    order = await tables.get_order(sessions, uuid.UUID(posted.headers["Location"].rsplit("/", 1)[1]))
    async with sessions() as session:
        code = await session.scalar(select(Candidate.code).where(Candidate.id == order.candidate_id))
    assert (code, order.quantity) == ("03", 2)


async def test_a_card_for_no_such_candidate_falls_back_to_the_whole_list(client: TestClient,
                                                                        sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala", candidates=3)
    html = await (await client.get("/c/gala?candidate=99", params={"lang": "en"})).text()
    assert html.count('name="candidate"') == 3 and "Choose another candidate" not in html
