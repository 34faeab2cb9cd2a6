"""Every text an organiser types goes through one rule (gateway.core.entered_text): a NUL or a lone
surrogate in a bio, a name, a CSV row or a block reason is refused with the field named, on the form and
on the API, and nothing is stored; PostgreSQL, which refuses both, never sees them (it gave a 500)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from gateway.db.engine import Sessions
from gateway.db.models import BlockedMsisdn, Candidate, Contest
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, contest_fields, make_account

UNSTORABLE = ("Awa\x00<script>", "Awa \ud800")  # NUL; a lone surrogate, which JSON's \ud800 gives


async def candidates(sessions: Sessions) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(Candidate)) or 0


async def test_an_unstorable_bio_is_refused_on_the_form_and_the_api(client: TestClient, sessions: Sessions) -> None:
    account = await make_account(sessions, "organiser")
    headers = bearer(await api_tokens(client, account))
    contest = await (await client.post("/api/v1/admin/contests", json=contest_fields(), headers=headers)).json()
    made = await (await client.post(f"/api/v1/admin/contests/{contest['id']}/candidates", json={"name": "Awa"},
                                    headers=headers)).json()
    for bio in UNSTORABLE:
        added = await client.post(f"/api/v1/admin/contests/{contest['id']}/candidates",
                                  json={"name": "Binta", "bio": bio}, headers=headers)
        assert added.status == 400, await added.text()
        assert (await added.json())["error"]["field"] == "bio"
        edited = await client.patch(f"/api/v1/admin/candidates/{made['id']}", json={"name": "Awa", "bio": bio},
                                    headers=headers)
        assert edited.status == 400 and (await edited.json())["error"]["field"] == "bio", await edited.text()
        renamed = await client.patch(f"/api/v1/admin/candidates/{made['id']}", json={"name": bio}, headers=headers)
        assert renamed.status == 400 and (await renamed.json())["error"]["field"] == "name"
    token = await browser_sign_in(client, account)
    page = await client.post(f"/admin/contests/{contest['id']}/candidates",
                             data={"csrf_token": token, "name": "Binta", "bio": UNSTORABLE[0]}, allow_redirects=False)
    assert page.status == 400 and "bio" in await page.text()
    assert await candidates(sessions) == 1
    async with sessions() as session:
        assert await session.scalar(select(Candidate.bio)) is None


async def test_a_csv_row_with_an_unstorable_bio_imports_nothing(client: TestClient, sessions: Sessions) -> None:
    account = await make_account(sessions, "organiser")
    headers = bearer(await api_tokens(client, account))
    contest = await (await client.post("/api/v1/admin/contests", json=contest_fields(), headers=headers)).json()
    path = f"/api/v1/admin/contests/{contest['id']}/candidates/import"
    for bio in UNSTORABLE:
        text = f"name,bio\nAwa,singer\nBinta,{bio}\n"
        response = await client.post(path, json={"csv": text}, headers=headers)
        assert response.status == 400, await response.text()
        assert "line 3" in (await response.json())["error"]["message"]
    token = await browser_sign_in(client, account)
    page = await client.post(f"/admin/contests/{contest['id']}/candidates/import",
                             data={"csrf_token": token, "csv": f"name,bio\nBinta,{UNSTORABLE[0]}\n"})
    assert page.status == 400 and "line 2" in await page.text()
    assert await candidates(sessions) == 0


async def test_unstorable_contest_texts_and_block_reasons_are_refused(client: TestClient, sessions: Sessions) -> None:
    headers = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    answers: list[tuple[int, Any]] = []
    for text in UNSTORABLE:
        created = await client.post("/api/v1/admin/contests", json=contest_fields(name=text), headers=headers)
        blocked = await client.post("/api/v1/admin/blocked/numbers",
                                    json={"msisdn": "+237670000001", "reason": text}, headers=headers)
        answers += [(created.status, (await created.json())["error"]["field"]),
                    (blocked.status, (await blocked.json())["error"]["field"])]
    assert answers == [(400, "name"), (400, "reason")] * 2
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Contest)) == 0
        assert await session.scalar(select(func.count()).select_from(BlockedMsisdn)) == 0
