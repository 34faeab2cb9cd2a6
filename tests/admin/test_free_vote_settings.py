"""An organiser gives a contest free votes through the JSON API: how many a number takes, per day or per round, and
how they weigh; the answer and the audit trail carry them, a wrong value is refused and nothing changes, and a save
that says nothing of them (the form drawn before them) keeps them."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Contest
from tests.admin.accounts import api_tokens, bearer, contest_fields, make_account


async def test_free_votes_are_set_refused_when_wrong_and_kept_by_a_save_without_them(
        client: TestClient, sessions: Sessions) -> None:
    headers = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    made = await client.post("/api/v1/admin/contests", headers=headers, json=contest_fields(
        free_votes_per_day=2, free_votes_per="round", free_vote_weight="counted"))
    assert made.status == 201, await made.text()
    body = await made.json()
    assert (body["free_votes_per_day"], body["free_votes_per"], body["free_vote_weight"]) == (2, "round", "counted")
    url = f"/api/v1/admin/contests/{body['id']}"
    wrong = await client.put(url, headers=headers, json=contest_fields(free_votes_per_day=1, free_vote_weight="half"))
    assert wrong.status == 400 and (await wrong.json())["error"]["field"] == "free_vote_weight"
    kept = await client.put(url, headers=headers, json=contest_fields(name="Gala 2027 bis"))
    assert kept.status == 200, await kept.text()
    async with sessions() as session:
        contest = (await session.scalars(select(Contest))).one()
        audits = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "contest.create"))).all()
    assert (contest.free_votes_per_day, contest.free_votes_per, contest.free_vote_weight) == (2, "round", "counted")
    assert audits[0].after is not None and audits[0].after["free_votes_per_day"] == 2
