"""Every public page says what it is for to a search engine or a link's preview (`<meta name="description">`),
once, in the reader's language."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

from aiohttp.test_utils import TestClient

from gateway.db.engine import Sessions
from gateway.db.models import ContestStatus, EntryCall
from tests.factories import make_contest, place


def descriptions(html: str) -> list[str]:
    return [unescape(found) for found in re.findall(r'<meta name="description" content="([^"]*)">', html)]


async def test_every_public_page_has_its_own_description(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala", name="Gala 2026")
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        session.add(EntryCall(contest_id=contest.id, opens_at=now - timedelta(hours=1),
                              closes_at=now + timedelta(days=7), rules="One clip.", max_entries=None))
    order = await place(sessions, contest, candidate="02", quantity=2)
    await make_contest(sessions, slug="done", name="Done 2025", status=ContestStatus.CLOSED,
                       opens_at=now - timedelta(days=9), closes_at=now - timedelta(days=1))
    expected = {
        "/": "Vote for your favourite in contests",
        "/c/gala": "Vote for your favourite in Gala 2026: FCFA\u00a0100 per vote.",
        "/c/gala/02": "Vote for Candidate 02 in Gala 2026. Dial *384*999*1*02#",
        "/c/gala/enter": "Enter Gala 2026 from your phone",
        "/verify": "Check with your payment reference that your vote was counted",
        f"/orders/{order.id}": "Your vote in Gala 2026",
        "/c/done": "The results of Done 2025: the final ranking",
    }
    for path, words in expected.items():
        response = await client.get(path, params={"lang": "en"})
        assert response.status == 200, path
        found = descriptions(await response.text())
        assert len(found) == 1 and words in found[0], (path, found)
    french = descriptions(await (await client.get("/verify", params={"lang": "fr"})).text())
    assert french == ["Vérifiez avec votre référence de paiement que votre vote a été compté, et retrouvez-le dans "
                      "le registre signé du concours."]
