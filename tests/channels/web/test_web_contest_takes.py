"""The web tells a voter what a contest takes: the phone field's hint names the contest's own wallets and a number as
its country writes it, and a provider it does not take is answered with what it does, never "try again later"."""

from __future__ import annotations

import html

from aiohttp.test_utils import TestClient

from gateway.db.engine import Sessions
from tests.channels.web.contest_form import open_form
from tests.factories import make_contest


async def test_a_kenyan_m_pesa_page_hints_m_pesa_and_a_kenyan_number(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="nairobi", country="KE", time_zone="Africa/Nairobi", currency="KES",
                       providers=["mpesa"])
    await make_contest(sessions, slug="douala", providers=["mtn", "orange"])
    kenyan = html.unescape(await (await client.get("/c/nairobi", params={"lang": "en"})).text())
    assert "For M-Pesa: the number that pays, e.g. 0712 123456." in kenyan
    assert "MTN" not in kenyan and "6 70 12 34 56" not in kenyan
    swahili = html.unescape(await (await client.get("/c/nairobi", params={"lang": "sw"})).text())
    assert "Kwa M-Pesa: nambari inayolipa, mfano 0712 123456." in swahili
    cameroonian = html.unescape(await (await client.get("/c/douala", params={"lang": "fr"})).text())
    assert "Pour MTN Mobile Money ou Orange Money : le numéro qui paie, par ex. 6 71 23 45 67." in cameroonian


async def test_the_form_answers_a_provider_not_taken_with_what_the_contest_takes(client: TestClient,
                                                                              sessions: Sessions) -> None:
    await make_contest(sessions, slug="douala", providers=["mtn", "orange"])
    held = await open_form(client, "douala", lang="fr")
    posted = await client.post("/c/douala/vote", data={**held, "candidate": "02", "quantity": "2",
                                                       "provider": "mpesa", "msisdn": "677000102"})
    page = html.unescape(await posted.text())
    assert posted.status == 422
    assert "Ce concours se paie par MTN Mobile Money ou Orange Money, numéros +237." in page
    assert "Réessayez" not in page


async def test_the_api_refuses_a_provider_not_taken_naming_what_the_contest_takes(client: TestClient,
                                                                               sessions: Sessions) -> None:
    await make_contest(sessions, slug="douala", providers=["mtn", "orange"])
    refused = await client.post("/api/v1/contests/douala/votes", json={
        "candidate": "01", "quantity": 2, "provider": "mpesa", "msisdn": "677000102"},
        headers={"Accept-Language": "en"})
    error = (await refused.json())["error"]
    assert refused.status == 422 and error["code"] == "provider_not_enabled"
    assert error["message"] == "This contest is paid by MTN Mobile Money or Orange Money, numbers +237."
