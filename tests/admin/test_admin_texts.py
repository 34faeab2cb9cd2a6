"""The admin pages speak the organiser's language (French or English) through their own catalog domain:
each text of the templates and label tables has its French translation."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient
from babel.messages.extract import extract_from_dir

from admin import texts
from gateway.db.engine import Sessions
from tests.admin.accounts import browser_sign_in, make_account
from tests.factories import make_contest

TEMPLATES = Path(texts.__file__).parent / "templates"
SAME_IN_FRENCH = {"Code", "Photo", "Votes", "Messages", "Telegram Stars", "{n} votes", "signature", "votes",
                  "Commission", "Clip", "Jury"}


def template_texts() -> set[str]:
    found = extract_from_dir(str(TEMPLATES), method_map=[("**.html", "jinja2")])
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in found}


def test_every_admin_text_has_its_french_translation() -> None:
    french = texts.CATALOGS.translations("fr")
    wanted = template_texts() | {text for table in texts.TABLES.values() for text in table.values()}
    assert len(wanted) > 150 and "Sealed until close: nothing public until the contest is closed" in wanted
    untranslated = sorted(text for text in wanted if french.gettext(text) == text and text not in SAME_IN_FRENCH)
    assert untranslated == []


async def test_a_french_organiser_reads_the_pages_in_french_and_english_stays_the_default(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, board_sealed=True)
    await browser_sign_in(client, await make_account(sessions, "owner"))
    english = await (await client.get(f"/admin/contests/{contest.id}")).text()
    assert '<html lang="en">' in english and "Add a candidate" in english and "Sealed until close" in english
    french = await (await client.get(f"/admin/contests/{contest.id}", headers={"Accept-Language": "fr-CM,fr"})).text()
    assert '<html lang="fr">' in french and "Ajouter un candidat" in french and "Add a candidate" not in french
    assert "Sous scellés : rien de public avant la clôture du concours" in french
    form = await (await client.get(f"/admin/contests/{contest.id}/edit?lang=fr")).text()
    assert "Règles anti-fraude (0 désactive une règle)" in form and "Commandes par numéro payeur en 10 minutes" in form
    remembered = await (await client.get("/admin/blocked")).text()  # ?lang=fr was kept in a cookie
    assert "Numéros et adresses bloqués" in remembered and "Se déconnecter" in remembered
    back = await (await client.get("/admin/blocked?lang=en")).text()
    assert "Blocked numbers and addresses" in back
