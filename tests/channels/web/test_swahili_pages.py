"""The public pages for a Swahili reader (M-Pesa's and Airtel's East African voters): the browser's
Accept-Language picks Swahili, the header links to every other language, and an order's page says in Swahili
why its payment failed."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from gateway.core.money_in.reasons import readable_reason
from gateway.core.orders import closing, counting
from gateway.db.engine import Sessions
from tests.factories import make_contest, place

SWAHILI = {"Accept-Language": "sw-KE,sw;q=0.9,en;q=0.5"}
LANGUAGE_LINK = re.compile(r'<a class="lang" href="([^"]+)" hreflang="(\w+)" lang="\w+">([^<]+)</a>')


async def test_a_swahili_browser_gets_the_vote_page_in_swahili(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala", default_language="fr")
    html = await (await client.get("/c/gala", headers=SWAHILI)).text()
    assert '<html lang="sw"' in html and "Piga kura na ulipe" in html and "Msimamo wa moja kwa moja" in html
    assert LANGUAGE_LINK.findall(html) == [("/c/gala?lang=fr", "fr", "Français"), ("/c/gala?lang=en", "en", "English")]
    chosen = await client.get("/c/gala", params={"lang": "sw"}, headers={"Accept-Language": "fr"})
    assert chosen.cookies["ballot_lang"].value == "sw" and "Piga kura na ulipe" in await chosen.text()
    french = await (await client.get("/c/gala", params={"lang": "fr"})).text()
    assert [name for _, _, name in LANGUAGE_LINK.findall(french)] == ["English", "Kiswahili"]


async def test_a_swahili_voter_reads_why_the_payment_failed(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala")
    wrong_pin = await place(sessions, contest, candidate="02", quantity=3)
    await closing.fail_order(sessions, wrong_pin.id, readable_reason("WRONG_PIN"))
    open_prompt = await place(sessions, contest, candidate="03")
    await closing.fail_order(sessions, open_prompt.id, readable_reason("PROMPT_PENDING"))
    paid = await place(sessions, contest, candidate="01", quantity=2)
    await counting.confirm_payment(sessions, paid.id, "SUCCESSFUL", 200, "XAF", "txn-sw", provider=paid.provider)

    html = await (await client.get(f"/orders/{wrong_pin.id}", headers=SWAHILI)).text()
    assert "Malipo hayakufanikiwa" in html and "PIN iliyowekwa kwenye simu si sahihi." in html
    assert "WRONG_PIN" not in html  # words in the voter's language, never the provider's code
    assert "Piga kura tena" in html
    html = await (await client.get(f"/orders/{open_prompt.id}", headers=SWAHILI)).text()
    assert "Kuna ombi la malipo wazi kwenye simu hii: limalize kwanza." in html and "PROMPT_PENDING" not in html
    html = await (await client.get(f"/orders/{paid.id}", headers=SWAHILI)).text()
    assert "Asante! Kura yako imehesabiwa." in html and "kura 2 kwa Candidate 01" in html
