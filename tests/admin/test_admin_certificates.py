"""Winners' certificates: an organiser downloads a PDF per winner once the results are signed at close (409
before), in the contest's language; its QR code's address opens /verify, which holds a true certificate good
and refuses one whose votes were changed; another organiser's contest stays out of reach."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pypdf
from aiohttp.test_utils import TestClient

from gateway.core.contests import rounds
from gateway.core.orders import counting
from gateway.core.results import round_sheets, signing
from gateway.core.results.certificates import parse_claim
from gateway.core.results.checkpoints import checkpoint_pass
from gateway.db.engine import Sessions
from gateway.db.models import Contest, ContestOrganiser
from gateway.kit.keys import RESULTS_KEY
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, make_account
from tests.factories import RULES_OFF, make_contest, place
from tests.show_rounds import OWNER, a_show, paid_votes, reloaded


async def voted(sessions: Sessions, votes: dict[str, int], **fields: Any) -> Contest:
    contest = await make_contest(sessions, fraud_rules=RULES_OFF, **fields)
    for code, quantity in votes.items():
        order = await place(sessions, contest, code, quantity=quantity)
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, f"t-{code}",
                                       provider=order.provider)
    return contest


async def organiser_of(client: TestClient, sessions: Sessions, contest: Contest, email: str) -> dict[str, str]:
    account = await make_account(sessions, "organiser", email)
    async with sessions.begin() as session:
        session.add(ContestOrganiser(contest_id=contest.id, admin_id=account.id))
    return bearer(await api_tokens(client, account))


async def close_and_sign(client: TestClient, sessions: Sessions, contest: Contest, headers: dict[str, str]) -> None:
    """The organiser closes the contest; the ledger's periodic pass signs its sheet at close."""
    closed = await client.post(f"/api/v1/admin/contests/{contest.id}/close", headers=headers)
    assert closed.status == 200, await closed.text()
    assert f"{contest.slug}:close" in await checkpoint_pass(sessions, client.app[RESULTS_KEY], datetime.now(UTC))


def pdf_of(body: bytes) -> tuple[str, list[str]]:
    """The certificate's text, and the addresses its links open (the QR code's)."""
    page = pypdf.PdfReader(io.BytesIO(body)).pages[0]
    links = [annotation.get_object()["/A"]["/URI"] for annotation in page.get("/Annots", [])]
    return page.extract_text(), links


ENGLISH = {"Accept-Language": "en"}  # the public page speaks its reader's language


def verify_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_a_winners_certificate_downloads_after_close_and_its_qr_code_verifies(client: TestClient,
                                                                                    sessions: Sessions) -> None:
    contest = await voted(sessions, {"03": 7, "01": 4}, name="Stars of Douala", default_language="en")
    headers = await organiser_of(client, sessions, contest, "lions@example.com")
    auditor = bearer(await api_tokens(client, await make_account(sessions, "auditor")))
    # A sheet signed on demand while votes may still come in makes no certificate.
    assert (await client.post(f"/api/v1/admin/contests/{contest.id}/results/sign", headers=auditor)).status == 201
    early = await client.get(f"/api/v1/admin/contests/{contest.id}/certificates/03.pdf", headers=headers)
    assert early.status == 409 and (await early.json())["error"]["code"] == "results_not_signed"

    [on_demand] = await signing.sheets_of(sessions, contest.id)
    await close_and_sign(client, sessions, contest, headers)
    early_sheet = await client.get(f"/api/v1/admin/contests/{contest.id}/certificates/03.pdf?sheet={on_demand.id}",
                                   headers=headers)
    assert early_sheet.status == 409 and (await early_sheet.json())["error"]["code"] == "sheet_not_final"
    response = await client.get(f"/api/v1/admin/contests/{contest.id}/certificates/03.pdf", headers=headers)
    assert response.status == 200 and response.content_type == "application/pdf"
    text, [url] = pdf_of(await response.read())
    for shown in ("Stars of Douala", "Candidate 03", "1st place", "7 votes", "lions@example.com", "Certificate"):
        assert shown in text, (shown, text)
    assert url.startswith("http://") and "/verify?" in url and "votes=7" in url and "place=1" in url

    checked = await client.get(verify_path(url), headers=ENGLISH)
    page = await checked.text()
    assert checked.status == 200 and "This certificate matches the signed results." in page, page
    forged = await client.get(verify_path(url).replace("votes=7", "votes=70"), headers=ENGLISH)
    assert forged.status == 409 and "does not match the signed results" in await forged.text()
    second_as_first = await client.get(verify_path(url).replace("code=03", "code=01"))
    assert second_as_first.status == 409

    listed = await client.get(f"/api/v1/admin/contests/{contest.id}/certificates?top=2", headers=headers)
    body = await listed.json()
    assert [(c["code"], c["place"], c["votes"]) for c in body["certificates"]] == [("03", 1, 7), ("01", 2, 4)]
    runner_up = body["certificates"][1]
    assert (await client.get(verify_path(runner_up["verify_url"]))).status == 200
    named = await client.get(runner_up["pdf"] + "&issuer=Lions%20Club%20Douala", headers=headers)
    text, _ = pdf_of(await named.read())
    assert "2nd place" in text and "4 votes" in text and "Lions Club Douala" in text


async def test_a_french_contests_certificate_speaks_french(client: TestClient, sessions: Sessions) -> None:
    contest = await voted(sessions, {"02": 1500}, name="Miss Cameroun", default_language="fr",
                           max_votes_per_order=2000)
    headers = await organiser_of(client, sessions, contest, "miss@example.com")
    await close_and_sign(client, sessions, contest, headers)
    response = await client.get(f"/api/v1/admin/contests/{contest.id}/certificates/02.pdf", headers=headers)
    text, [url] = pdf_of(await response.read())
    assert "1re place" in text and "1\u202f500 votes" in text and "Certificat" in text, text
    claim = parse_claim(dict(parse_qsl(urlsplit(url).query)))
    assert claim is not None and (claim.code, claim.place, claim.votes) == ("02", 1, 1500)


async def test_another_organiser_gets_no_certificate_and_the_page_links_each_winner(client: TestClient,
                                                                                   sessions: Sessions) -> None:
    contest = await voted(sessions, {"01": 2, "04": 5})
    headers = await organiser_of(client, sessions, contest, "ours@example.com")
    await close_and_sign(client, sessions, contest, headers)
    stranger = await organiser_of(client, sessions, await make_contest(sessions), "theirs@example.com")
    refused = await client.get(f"/api/v1/admin/contests/{contest.id}/certificates/04.pdf", headers=stranger)
    assert refused.status == 404 and (await refused.json())["error"]["code"] == "contest_not_found"
    support = bearer(await api_tokens(client, await make_account(sessions, "support")))
    assert (await client.get(f"/api/v1/admin/contests/{contest.id}/certificates/04.pdf", headers=support)).status == 403
    unknown = await client.get(f"/api/v1/admin/contests/{contest.id}/certificates/99.pdf", headers=headers)
    assert unknown.status == 404

    await browser_sign_in(client, await make_account(sessions, "owner"))
    page = await (await client.get(f"/admin/contests/{contest.id}/results?top=2")).text()
    assert f"/admin/contests/{contest.id}/certificates/04.pdf" in page
    assert f"/admin/contests/{contest.id}/certificates/01.pdf" in page
    download = await client.get(f"/admin/contests/{contest.id}/certificates/04.pdf")
    assert download.status == 200 and "1re place" in pdf_of(await download.read())[0]  # the contest's French


async def test_a_rounds_signed_results_give_certificates_naming_the_round(client: TestClient,
                                                                         sessions: Sessions) -> None:
    contest, _ = await a_show(sessions)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    await paid_votes(sessions, await reloaded(sessions, contest), {"01": 5, "02": 3, "03": 1})
    closed_at = await rounds.close_lines(sessions, OWNER, contest.id)
    await rounds.decide_round(sessions, OWNER, contest.id, 1, places=2, now=closed_at + rounds.DEFAULT_LATE_GRACE)
    heats = await round_sheets.sign_round(sessions, client.app[RESULTS_KEY], contest.id, 1, signed_by="test")
    headers = await organiser_of(client, sessions, contest, "heats@example.com")

    listed = await client.get(f"/api/v1/admin/contests/{contest.id}/certificates?top=2&sheet={heats.id}",
                              headers=headers)
    body = await listed.json()
    assert [(c["code"], c["place"], c["round"]) for c in body["certificates"]] == [("01", 1, "Heats"),
                                                                                  ("02", 2, "Heats")]
    response = await client.get(body["certificates"][1]["pdf"], headers=headers)
    text, [url] = pdf_of(await response.read())
    assert "Heats" in text and "2e place" in text and "3 votes" in text, text  # the contest speaks French
    assert (await client.get(verify_path(url), headers=ENGLISH)).status == 200
    final_claim = await client.get(verify_path(url).replace("round=Heats", "round=Final"), headers=ENGLISH)
    assert final_claim.status == 409
