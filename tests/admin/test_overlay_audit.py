"""The control room's overlay cue is a change to a contest like any other: each one that takes effect is in the audit
log ("contest.overlay", the cue before and after, by whom), from the page and the API alike; a refused one is not."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, make_account
from tests.factories import make_contest


async def overlay_entries(sessions: Sessions) -> list[AuditEntry]:
    async with sessions() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == "contest.overlay")
                                          .order_by(AuditEntry.id)))


async def test_each_overlay_cue_is_audited_with_the_cue_before_and_after(client: TestClient,
                                                                        sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala")
    url = f"/api/v1/admin/control/overlay/{contest.id}"
    support = bearer(await api_tokens(client, await make_account(sessions, "support", "support@example.com")))
    assert (await client.post(url, json={"shown": False}, headers=support)).status == 403
    owner = await make_account(sessions, "owner", "producer@example.com")
    theirs = bearer(await api_tokens(client, owner))
    assert (await client.post(url, json={"shown": True, "layout": "big"}, headers=theirs)).status == 400
    assert await overlay_entries(sessions) == []

    assert (await client.post(url, json={"shown": False, "layout": "corner"}, headers=theirs)).status == 200
    token = await browser_sign_in(client, owner)
    shown = await client.post(f"/admin/control/overlay/{contest.id}", data={"csrf_token": token, "shown": "1",
                                                                           "layout": ""}, allow_redirects=False)
    assert shown.status == 303
    cues = [(e.actor, e.target, e.before, e.after) for e in await overlay_entries(sessions)]
    assert cues == [
        ("producer@example.com", f"contest:{contest.id}", {"shown": True, "layout": None},
         {"shown": False, "layout": "corner"}),
        ("producer@example.com", f"contest:{contest.id}", {"shown": False, "layout": "corner"},
         {"shown": True, "layout": None})]
    log = await (await client.get("/admin/audit?action=contest.overlay")).text()
    assert log.count(f"<td>contest.overlay</td><td>contest:{contest.id}</td>") == 2
