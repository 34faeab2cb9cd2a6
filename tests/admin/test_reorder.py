"""An organiser's order of the candidates: set on the pages (one place up or down) or by the API (the whole
list), audited, and used by every public list that names candidates (web, USSD, Telegram's menus)."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from channels.ussd.dialled import contest_ids_dialled
from gateway.core.contests.contests_admin import moved
from gateway.core.service import VOTE_SERVICE
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, make_account
from tests.factories import make_contest


def test_a_move_at_either_end_changes_nothing() -> None:
    assert moved(["01", "02", "03"], "03", "up") == ["01", "03", "02"]
    assert moved(["01", "02", "03"], "01", "up") == ["01", "02", "03"]
    assert moved(["01", "02", "03"], "03", "down") == ["01", "02", "03"]


async def public_codes(client: TestClient, slug: str) -> list[str]:
    contest = await client.app[VOTE_SERVICE].contest(slug)
    return [c.code for c in contest.candidates]


async def test_the_api_reorders_and_every_public_list_follows(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=3, ussd_service_codes=["*384*321#"])
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    url = f"/api/v1/admin/contests/{contest.id}/candidates/order"
    for bad in ({"order": ["03", "01"]}, {"order": ["03", "01", "01"]}, {"order": "03,01,02"},
                {"order": ["03", "01", "09"]}):
        refused = await client.put(url, json=bad, headers=owner)
        assert refused.status == 400 and (await refused.json())["error"]["field"] == "order"
    assert await public_codes(client, contest.slug) == ["01", "02", "03"]

    response = await client.put(url, json={"order": ["03", "01", "02"]}, headers=owner)
    assert response.status == 200, await response.text()
    assert [c["code"] for c in (await response.json())["order"]] == ["03", "01", "02"]
    assert await public_codes(client, contest.slug) == ["03", "01", "02"]
    page = await (await client.get(f"/c/{contest.slug}?lang=en")).text()
    cards = page.split('class="cand-list"')[1]  # the live ranking above them is in the board's order
    assert re.findall(r'<li class="cand-card[^"]*" data-code="(\d+)"', cards) == ["03", "01", "02"]
    [menu] = await client.app[VOTE_SERVICE].contests_with_menus(contest_ids_dialled("*384*321#"))
    assert [c.code for c in menu.candidates] == ["03", "01", "02"]
    ussd = await client.post("/ussd/africastalking", data={
        "sessionId": "ATUid_order", "serviceCode": "*384*321#", "phoneNumber": "+237670000001",
        "networkCode": "62401", "text": "1"})
    listing = await ussd.text()
    assert listing.index("03") < listing.index("01") < listing.index("02"), listing
    async with sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "candidate.reorder"))
    assert entry is not None and entry.before == {"order": ["01", "02", "03"]}
    assert entry.after == {"order": ["03", "01", "02"]}


async def test_the_pages_move_a_candidate_and_an_auditor_may_not(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=3)
    token = await browser_sign_in(client, await make_account(sessions, "owner"))
    detail = await client.get(f"/api/v1/admin/contests/{contest.id}",
                              headers=bearer(await api_tokens(client, await make_account(sessions, "auditor"))))
    ids = {c["code"]: c["id"] for c in (await detail.json())["candidates"]}
    moved_up = await client.post(f"/admin/candidates/{ids['02']}/move", data={"csrf_token": token, "direction": "up"},
                                 allow_redirects=False)
    assert moved_up.status == 303
    page = await (await client.get(f"/admin/contests/{contest.id}")).text()
    assert page.index("Candidate 02") < page.index("Candidate 01") < page.index("Candidate 03")
    assert await public_codes(client, contest.slug) == ["02", "01", "03"]
    wrong = await client.post(f"/admin/candidates/{ids['02']}/move", data={"csrf_token": token, "direction": "left"})
    assert wrong.status == 400 and "direction: up or down" in await wrong.text()

    auditor = bearer(await api_tokens(client, await make_account(sessions, "auditor", "a2@example.com")))
    forbidden = await client.put(f"/api/v1/admin/contests/{contest.id}/candidates/order", headers=auditor,
                                 json={"order": ["03", "02", "01"]})
    assert forbidden.status == 403
    assert await public_codes(client, contest.slug) == ["02", "01", "03"]
    async with sessions() as session:
        actions = (await session.scalars(select(AuditEntry.action).where(
            AuditEntry.action == "candidate.reorder"))).all()
    assert actions == ["candidate.reorder"]
