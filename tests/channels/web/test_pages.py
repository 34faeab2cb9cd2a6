"""The public pages over HTTP: what a voter's browser gets, with and without JavaScript."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

from assembly.settings import Settings
from assembly.web.app import create_app
from channels.web.settings import WebSettings
from gateway.core.money_in.reasons import readable_reason
from gateway.core.orders import closing, counting, tables
from gateway.db.engine import Sessions
from gateway.db.models import ContestStatus, OrderStatus
from tests.channels.web.contest_form import open_form
from tests.factories import count_orders, make_contest, place
from tests.servers import inside_one_window

VOTE_LIMIT: int = WebSettings.model_fields["web_votes_per_minute"].default

ROOT = Path(__file__).parent.parent.parent.parent
VOTE = {"candidate": "02", "quantity": "3", "provider": "mtn", "msisdn": "6 70 00 00 01"}


class Controls(HTMLParser):
    """The form controls of a page and the ids its labels point at."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("type") != "hidden":
            self.inputs.append(values)
        if tag == "label" and values.get("for"):
            self.labelled.add(values["for"] or "")


async def test_index_lists_open_contests_only(client: TestClient, sessions: Sessions) -> None:
    now = datetime.now(UTC)
    await make_contest(sessions, slug="gala", name="Gala 2026")
    await make_contest(sessions, slug="pause", name="Paused Show", status=ContestStatus.PAUSED)
    await make_contest(sessions, slug="done", name="Closed Show", status=ContestStatus.CLOSED)
    await make_contest(sessions, slug="draft", name="Draft Show", status=ContestStatus.DRAFT)
    await make_contest(sessions, slug="late", name="Past Show", opens_at=now - timedelta(days=2),
                       closes_at=now - timedelta(days=1))
    response = await client.get("/", headers={"Accept-Language": "en"})
    html = await response.text()
    assert response.status == 200 and response.content_type == "text/html"
    assert 'href="/c/gala"' in html and "Gala 2026" in html and "FCFA\u00a0100 per vote" in html
    for name in ("Paused Show", "Closed Show", "Draft Show", "Past Show"):
        assert name not in html


async def test_contest_page_has_candidates_board_and_a_labelled_form(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala", name="Gala 2026", candidates=4)
    response = await client.get("/c/gala", params={"lang": "en"})
    html = await response.text()
    assert response.status == 200
    assert '<html lang="en"' in html and "Gala 2026" in html
    assert all(f"Candidate 0{i}" in html for i in range(1, 5))
    assert html.count('class="row"') == 4 and "0 votes" in html and "No. 1" in html
    assert re.search(r'<input type="hidden" name="csrf_token" value="[0-9a-f]{64}">', html)
    controls = Controls()
    controls.feed(html)
    assert {c["name"] for c in controls.inputs} == {"candidate", "quantity", "provider", "msisdn"}
    assert all(c["id"] in controls.labelled for c in controls.inputs), "every control has a <label for>"
    assert 'aria-live="polite"' in html and 'role="status"' in html
    cookie = response.cookies["ballot_csrf"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


async def test_plain_post_creates_a_pending_order_and_redirects_to_it(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    fields = await open_form(client, "gala", lang="en")
    response = await client.post("/c/gala/vote", data={**VOTE, **fields}, allow_redirects=False)
    assert response.status == 303
    location = response.headers["Location"]
    assert re.fullmatch(r"/orders/[0-9a-f-]{36}", location)
    order = await tables.get_order(sessions, uuid.UUID(location.rsplit("/", 1)[1]))
    assert (order.status, order.quantity, order.amount, order.voter_msisdn) == (
        OrderStatus.PENDING, 3, 300, "+237670000001")
    page = await (await client.get(location)).text()
    assert "Approve on your phone" in page and "FCFA\u00a0300" in page and "+237 •••••• 001" in page


async def test_a_double_submission_of_one_form_is_one_order(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    fields = await open_form(client, "gala")
    first = await client.post("/c/gala/vote", data={**VOTE, **fields}, allow_redirects=False)
    second = await client.post("/c/gala/vote", data={**VOTE, **fields}, allow_redirects=False)
    assert first.headers["Location"] == second.headers["Location"]
    assert await count_orders(sessions) == 1


async def test_the_script_posts_the_same_form_and_gets_json(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    fields = await open_form(client, "gala", lang="en")
    response = await client.post("/c/gala/vote", data={**VOTE, **fields}, headers={"Accept": "application/json"})
    body = await response.json()
    assert response.status == 201 and body["next"]["action"] == "approve_on_phone"
    assert body["summary"]["title"] == "Approve on your phone" and body["summary"]["terminal"] is False
    status = await (await client.get(body["poll_url"])).json()
    assert status["status"] == "pending" and status["title"] == "Approve on your phone"


@pytest.mark.parametrize("tamper", ["no token", "wrong token", "no cookie"])
async def test_a_post_without_a_valid_csrf_token_is_refused(client: TestClient, sessions: Sessions,
                                                             tamper: str) -> None:
    await make_contest(sessions, slug="gala")
    fields = await open_form(client, "gala", lang="en")
    if tamper == "no token":
        del fields["csrf_token"]
    elif tamper == "wrong token":
        fields["csrf_token"] = "0" * 64
    else:
        client.session.cookie_jar.clear()
    response = await client.post("/c/gala/vote", data={**VOTE, **fields}, allow_redirects=False,
                                 headers={"Accept-Language": "en"})
    assert response.status == 403
    assert "This form has expired" in await response.text()
    assert await count_orders(sessions) == 0


async def test_a_planted_csrf_cookie_yields_no_token_and_the_page_issues_a_fresh_one(
        client: TestClient, sessions: Sessions) -> None:
    """Cookie tossing: the attacker plants a cookie of their choosing in the voter's browser, loads the
    page with the same cookie to learn its token, and has the voter's browser post that token."""
    await make_contest(sessions, slug="gala")
    planted = "A" * 43
    client.session.cookie_jar.clear()
    attacker_view = await client.get("/c/gala", headers={"Cookie": f"ballot_csrf={planted}"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', await attacker_view.text())
    assert token
    assert attacker_view.cookies["ballot_csrf"].value != planted  # replaced by a cookie we issued
    form = {**VOTE, "csrf_token": token.group(1), "form_id": "f" * 22}
    client.session.cookie_jar.clear()
    forged = await client.post("/c/gala/vote", data=form, headers={"Cookie": f"ballot_csrf={planted}"},
                               allow_redirects=False)
    assert forged.status == 403
    assert await count_orders(sessions) == 0


def multipart(fields: dict[str, str], odd: str, shape: str) -> FormData:
    """The vote form as a multipart post with one field sent as an uploaded file or as an untyped binary part,
    which no browser does with this form but anyone can."""
    form = FormData()
    for name, value in fields.items():
        if name != odd:
            form.add_field(name, value)
    if shape == "file":
        form.add_field(odd, io.BytesIO(fields[odd].encode()), filename=f"{odd}.txt", content_type="text/plain")
    else:
        form.add_field(odd, fields[odd], content_type="application/octet-stream")
    return form


@pytest.mark.parametrize(("odd", "shape"), [("csrf_token", "file"), ("csrf_token", "bytes"),
                                           ("candidate", "file"), ("candidate", "bytes")])
async def test_a_vote_form_posted_as_multipart_is_refused_and_creates_nothing(
        client: TestClient, sessions: Sessions, odd: str, shape: str) -> None:
    """No browser posts this form as multipart, but anyone can, with a field as a file or binary part."""
    await make_contest(sessions, slug="gala")
    fields = {**VOTE, **await open_form(client, "gala", lang="en")}
    response = await client.post("/c/gala/vote", data=multipart(fields, odd, shape))
    assert response.status == 415 and (await response.json())["error"]["code"]
    assert await count_orders(sessions) == 0


@pytest.mark.parametrize("quantity", ["²", "٣٠٠", "1e3"])
async def test_a_quantity_in_other_digits_is_an_error_next_to_the_field(client: TestClient, sessions: Sessions,
                                                                        quantity: str) -> None:
    await make_contest(sessions, slug="gala")
    fields = await open_form(client, "gala", lang="en")
    response = await client.post("/c/gala/vote", data={**VOTE, **fields, "quantity": quantity})
    assert response.status == 422
    assert re.search(r'id="err-quantity">Enter a number of votes between 1 and 100\.<', await response.text())
    assert await count_orders(sessions) == 0


async def test_bad_input_comes_back_with_errors_next_to_the_fields(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    fields = await open_form(client, "gala", lang="en")
    response = await client.post("/c/gala/vote", data={**VOTE, **fields, "quantity": "0", "msisdn": "12"})
    html = await response.text()
    assert response.status == 422
    assert re.search(r'id="err-quantity">Enter a number of votes between 1 and 100\.<', html)
    assert re.search(r'id="err-msisdn">This is not a valid phone number\.<', html)
    assert re.search(r'id="quantity"[^>]*aria-invalid="true"', html)
    assert 'value="12"' in html and 'id="cand-02" value="02" required checked' in html  # as the voter left it
    assert 'role="alert"' in html and 'href="#quantity"' in html
    assert await count_orders(sessions) == 0


async def test_a_card_vote_without_keys_is_refused_on_the_provider(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    fields = await open_form(client, "gala", lang="fr")
    response = await client.post("/c/gala/vote", data={**VOTE, **fields, "provider": "stripe", "msisdn": ""})
    html = await response.text()
    assert response.status == 422
    assert re.search(r'id="err-provider">Ce moyen de paiement n&#39;est pas disponible', html)
    assert await count_orders(sessions) == 0


async def test_votes_per_address_are_limited(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    fields = await open_form(client, "gala", lang="en")
    crowd = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}  # the last hop is what our proxy saw
    await inside_one_window()
    for _ in range(VOTE_LIMIT):
        refused = await client.post("/c/gala/vote", data={**VOTE, **fields, "quantity": "0"}, headers=crowd)
        assert refused.status == 422
    limited = await client.post("/c/gala/vote", data={**VOTE, **fields}, headers=crowd, allow_redirects=False)
    assert limited.status == 429 and limited.headers["Retry-After"] == "60"
    assert "Too many attempts" in await limited.text()
    assert await count_orders(sessions) == 0
    client.session.cookie_jar.clear()  # another person (this one's browser and number spent theirs too)
    someone_else = {**VOTE, **await open_form(client, "gala"), "msisdn": "6 70 00 00 02"}
    other = await client.post("/c/gala/vote", data=someone_else, headers={"X-Forwarded-For": "203.0.113.8"},
                              allow_redirects=False)
    assert other.status == 303


async def test_behind_a_carrier_address_each_browser_keeps_one_persons_allowance(
        client: TestClient, sessions: Sessions) -> None:
    """A carrier's address (Orange Cameroun's 41.202.192.0/19) is a crowd's: one browser paying from ever new numbers
    there is still limited as one person, while the next browser behind the same address votes."""
    await make_contest(sessions, slug="gala")
    carrier = {"X-Forwarded-For": "41.202.192.7"}
    fields = await open_form(client, "gala", lang="en")
    await inside_one_window()
    for n in range(VOTE_LIMIT):
        refused = await client.post("/c/gala/vote", data={**VOTE, **fields, "quantity": "0",
                                                          "msisdn": f"6 90 00 {n:02d} 01"}, headers=carrier)
        assert refused.status == 422
    limited = await client.post("/c/gala/vote", data={**VOTE, **fields, "msisdn": "6 90 00 99 01"}, headers=carrier,
                                allow_redirects=False)
    assert limited.status == 429 and "Too many attempts" in await limited.text()
    client.session.cookie_jar.clear()  # another phone's browser
    neighbour = await open_form(client, "gala", lang="en")
    voted = await client.post("/c/gala/vote", data={**VOTE, **neighbour, "msisdn": "6 90 00 99 02"}, headers=carrier,
                              allow_redirects=False)
    assert voted.status == 303
    assert await count_orders(sessions) == 1


async def test_a_rotating_forwarded_header_from_a_peer_that_is_not_our_proxy_does_not_escape_the_limit(
        clean: None, settings: Settings, sessions: Sessions) -> None:
    """Anyone reaching the app from a private address (a LAN, a neighbouring pod) is not our proxy: only
    TRUSTED_PROXIES are (the test client connects from loopback, which this app does not trust)."""
    await make_contest(sessions, slug="gala")
    app = create_app(settings.model_copy(update={"trusted_proxies": "10.0.0.0/8"}))
    async with TestClient(TestServer(app)) as direct:
        fields = await open_form(direct, "gala", lang="en")
        await inside_one_window()
        for n in range(VOTE_LIMIT):
            refused = await direct.post("/c/gala/vote", data={**VOTE, **fields, "quantity": "0"},
                                        headers={"X-Forwarded-For": f"203.0.113.{n + 1}"})
            assert refused.status == 422
        limited = await direct.post("/c/gala/vote", data={**VOTE, **fields}, allow_redirects=False,
                                    headers={"X-Forwarded-For": "198.51.100.77"})
        assert limited.status == 429
    assert await count_orders(sessions) == 0


async def test_french_and_english(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala", default_language="fr")
    french = await (await client.get("/c/gala")).text()
    assert '<html lang="fr"' in french and "Voter et payer" in french and "Classement en direct" in french
    english = await (await client.get("/c/gala", headers={"Accept-Language": "en-GB,en;q=0.9"})).text()
    assert '<html lang="en"' in english and "Vote and pay" in english
    chosen = await client.get("/c/gala", params={"lang": "en"}, headers={"Accept-Language": "fr"})
    assert chosen.cookies["ballot_lang"].value == "en"
    remembered = await (await client.get("/c/gala", headers={"Accept-Language": "fr"})).text()
    assert "Vote and pay" in remembered and 'hreflang="fr"' in remembered


async def test_order_page_for_pending_paid_and_failed(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala")
    pending = await place(sessions, contest, candidate="01", quantity=2)
    paid = await place(sessions, contest, candidate="02", quantity=3)
    await counting.confirm_payment(sessions, paid.id, "SUCCESSFUL", 300, "XAF", "txn-1", provider=paid.provider)
    failed = await place(sessions, contest, candidate="03")
    await closing.fail_order(sessions, failed.id, readable_reason("APPROVAL_REJECTED"))

    html = await (await client.get(f"/orders/{pending.id}", params={"lang": "en"})).text()
    assert "Approve on your phone" in html and 'http-equiv="refresh"' in html and pending.id.hex[:8].upper() in html
    html = await (await client.get(f"/orders/{paid.id}")).text()
    assert "Thank you! Your vote counts." in html and "3 votes for Candidate 02" in html
    assert 'http-equiv="refresh"' not in html
    html = await (await client.get(f"/orders/{failed.id}")).text()
    assert "The payment was declined on the phone." in html and "APPROVAL_REJECTED" not in html
    assert 'href="/c/gala?candidate=03#vote"' in html
    html = await (await client.get(f"/orders/{failed.id}", params={"lang": "fr"})).text()
    assert "Le paiement a été refusé sur le téléphone." in html and "Voter à nouveau" in html
    status = await (await client.get(f"/orders/{paid.id}/status")).json()
    assert status["status"] == "paid" and status["terminal"] is True and status["tone"] == "ok"


@pytest.mark.parametrize("path", ["/orders/{random}", "/orders/not-an-id", "/c/nope"])
async def test_unknown_order_or_contest_is_a_404_page(client: TestClient, sessions: Sessions, path: str) -> None:
    response = await client.get(path.format(random=uuid.uuid4()), params={"lang": "en"})
    assert response.status == 404 and response.content_type == "text/html"
    assert "Page not found" in await response.text()


async def test_board_ranks_ties_together_and_can_hide_counts(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala", candidates=3)
    for code, quantity in (("02", 5), ("03", 5)):
        order = await place(sessions, contest, candidate=code, quantity=quantity)
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", quantity * 100, "XAF", f"t-{code}",
                                       provider=order.provider)
    html = await (await client.get("/c/gala/board", params={"lang": "en"})).text()
    rows = re.findall(r'data-code="(\d+)" data-name="[^"]*" data-rank="(\d)" data-votes="(\d*)"', html)
    assert rows == [("02", "1", "5"), ("03", "1", "5"), ("01", "3", "0")]
    assert "10 votes in total" in html and 'http-equiv="refresh" content="30"' in html
    contest_hidden = await make_contest(sessions, slug="secret-counts", candidates=2, show_counts=False)
    assert contest_hidden.show_counts is False
    html = await (await client.get("/c/secret-counts", params={"lang": "en"})).text()
    assert "only the ranking is shown" in html and 'class="votes"' not in html and "No. 1" in html


async def test_static_files_are_named_by_content_gzipped_and_kept_a_year(client: TestClient,
                                                                         sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    html = await (await client.get("/c/gala")).text()
    css = re.search(r'href="(/static/ballot\.([0-9a-f]{10})\.css)"', html)
    js = re.search(r'src="(/static/ballot\.[0-9a-f]{10}\.js)" defer', html)
    assert css and js
    plain = (ROOT / "channels/web/static/ballot.css").read_bytes()
    assert css.group(2) == hashlib.sha256(plain).hexdigest()[:10]
    for url in (css.group(1), js.group(1)):
        response = await client.get(url, headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
        body = await response.read()
        assert response.status == 200 and response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert "Accept-Encoding" in response.headers["Vary"] and len(body) < len(gzip.decompress(body)) / 2
    response = await client.get(css.group(1), headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in response.headers and await response.read() == plain
    assert response.content_type == "text/css"
    old = await client.get("/static/ballot.css")  # an older page's or a bookmark's address
    assert old.status == 200 and await old.read() == plain and "immutable" not in old.headers["Cache-Control"]
    again = await client.get("/static/ballot.css", headers={"If-None-Match": old.headers["ETag"]})
    assert again.status == 304
    assert (await client.get("/static/ballot.0000000000.css")).status == 404


async def test_a_frozen_board_shows_the_votes_paid_before_the_freeze(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala", candidates=2,
                                 board_frozen_at=datetime.now(UTC) - timedelta(minutes=1))
    order = await place(sessions, contest, candidate="02", quantity=4)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 400, "XAF", "late", provider=order.provider)
    html = await (await client.get("/c/gala", params={"lang": "en"})).text()
    assert "The ranking is frozen" in html and "4 votes" not in html and "0 votes in total" in html


async def test_a_paused_contest_shows_its_board_but_no_form(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala", status=ContestStatus.PAUSED)
    html = await (await client.get("/c/gala", params={"lang": "en"})).text()
    assert "Voting is paused for now." in html and 'id="vote-form"' not in html and 'id="board-list"' in html
    again = await client.get("/c/gala/vote", allow_redirects=False)
    assert again.status == 303 and again.headers["Location"] == "/c/gala#vote"
