""""My vote counted", the results key and the signed results over HTTP."""

from __future__ import annotations

import base64
import csv
import io
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.web.keys import STARTS
from gateway.core.money_in.verification import by_status as verification
from gateway.core.orders import counting
from gateway.core.results import ledger, signing
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, Contest, ContestStatus, VoteOrder
from tests.factories import RULES_OFF, TEST_RESULTS_KEY, make_contest, place
from tests.servers import inside_one_window

PAYER = "+237670000001"


async def counted_order(sessions: Sessions, contest: Contest, quantity: int = 3) -> VoteOrder:
    order = await place(sessions, contest, "02", quantity=quantity, msisdn=PAYER)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, "MTN-77",
                                   provider=order.provider)
    return order


def reference(order: VoteOrder) -> str:
    return order.id.hex[:8].upper()  # what the receipt shows (gateway.core.contests.catalog.VoterOrder.reference)


async def test_a_counted_vote_shows_its_ledger_entry_and_then_the_checkpoint_that_covers_it(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules=RULES_OFF)
    order = await counted_order(sessions, contest)
    response = await client.get(f"/api/v1/receipts/{reference(order).lower()}")
    assert response.status == 200
    body = await response.json()
    assert body["outcome"] == "counted" and body["counted"] is True and body["quantity"] == 3
    assert body["payer"] == "+2376*****001" and PAYER not in await response.text()
    [entry] = body["ledger_entries"]
    assert (entry["seq"], entry["kind"], entry["quantity"]) == (1, "counted", 3) and len(entry["hash"]) == 64
    assert body["checkpoint"] is None and body["next_checkpoint_at"] is not None

    async with sessions.begin() as session:
        await ledger.take_checkpoint(session, contest.id, "hourly")
    covered = await (await client.get(f"/api/v1/receipts/{reference(order)}")).json()
    assert covered["checkpoint"]["entries"] == 1 and covered["checkpoint"]["head"] == entry["hash"]
    assert covered["next_checkpoint_at"] is None

    page = await client.get(f"/verify?reference={reference(order)}&lang=en")
    html = await page.text()
    assert page.status == 200 and "Your vote counted." in html and entry["hash"] in html
    assert "+2376*****001" in html and PAYER not in html
    contest_page = await (await client.get(f"/c/{contest.slug}?lang=en")).text()
    assert "Public vote ledger" in contest_page and entry["hash"] in contest_page


async def test_a_vote_taken_back_off_and_one_not_paid_say_why_they_do_not_count(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules=RULES_OFF)
    reversed_order = await counted_order(sessions, contest)
    await verification.take_back(sessions, reversed_order.id, "the provider has no such payment", None)
    pending = await place(sessions, contest, "01", quantity=1, msisdn="+237670000002")
    body = await (await client.get(f"/api/v1/receipts/{reference(reversed_order)}")).json()
    assert body["outcome"] == "reversed" and body["counted"] is False
    assert [(e["kind"], e["quantity"]) for e in body["ledger_entries"]] == [("counted", 3), ("reversed", -3)]
    waiting = await (await client.get(f"/api/v1/receipts/{reference(pending)}")).json()
    assert waiting["outcome"] == "pending" and waiting["ledger_entries"] == []
    french = await (await client.get(f"/verify?reference={reference(pending)}&lang=fr")).text()
    assert "Pas encore compté : le paiement n&#39;est pas confirmé." in french


async def test_an_unknown_or_unreadable_reference_is_a_clear_404_or_400_and_lookups_are_limited(
        client: TestClient, sessions: Sessions) -> None:
    await inside_one_window()
    unknown = await client.get("/api/v1/receipts/ABCDEF12")
    assert unknown.status == 404 and (await unknown.json())["error"]["code"] == "reference_not_found"
    bad = await client.get("/api/v1/receipts/not-a-ref")
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "invalid_reference"
    page = await client.get("/verify?reference=ABCDEF12&lang=en")
    assert page.status == 404 and "No vote has that reference." in await page.text()
    for _ in range(7):  # 10 a minute per address (RECEIPT_LOOKUPS_PER_MINUTE): 3 used above
        assert (await client.get("/api/v1/receipts/ABCDEF12")).status == 404
    limited = await client.get("/api/v1/receipts/ABCDEF12")
    assert limited.status == 429 and (await limited.json())["error"]["code"] == "rate_limited"
    assert (await client.get("/verify?reference=ABCDEF12&lang=en")).status == 429
    assert (await client.get("/verify?lang=en")).status == 200  # the empty form is never limited


async def test_the_results_are_public_once_closed_and_signed_and_check_against_the_published_key(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules=RULES_OFF)
    await counted_order(sessions, contest)
    assert (await client.get(f"/c/{contest.slug}/results.csv")).status == 404  # voting still open
    key = signing.private_key(TEST_RESULTS_KEY)
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == contest.id).values(
            status=ContestStatus.CLOSED, closes_at=datetime.now(UTC) - timedelta(minutes=1)))
    assert (await client.get(f"/c/{contest.slug}/results.csv")).status == 404  # not signed yet
    await signing.sign_results(sessions, key, contest.id, reason="close", signed_by="system")

    sheet = await (await client.get(f"/c/{contest.slug}/results.csv")).read()
    signature = await (await client.get(f"/c/{contest.slug}/results.csv.sig")).read()
    assert b"candidate,02,Candidate 02,3,300,XAF" in sheet
    published = await client.get("/.well-known/ballot-results-key")
    public = signing.public_key(await published.read())
    assert signing.signature_holds(public, sheet, signature)
    as_json = await (await client.get("/api/v1/results-key")).json()
    assert base64.b64decode(as_json["raw_base64"]) == signing.public_raw(key.public_key())
    page = await (await client.get(f"/c/{contest.slug}?lang=en")).text()
    assert f"/c/{contest.slug}/results.csv.sig" in page


async def test_a_sealed_contests_sheet_stays_private_until_the_organiser_closes_it(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules=RULES_OFF, board_sealed=True)
    await counted_order(sessions, contest)
    key = signing.private_key(TEST_RESULTS_KEY)
    await signing.sign_results(sessions, key, contest.id, reason="on_demand", signed_by="auditor@example.org")
    async with sessions.begin() as session:  # its closing time has passed, but nobody closed it yet
        await session.execute(update(Contest).where(Contest.id == contest.id).values(
            closes_at=datetime.now(UTC) - timedelta(minutes=1)))
    await signing.sign_results(sessions, key, contest.id, reason="close", signed_by="system")
    assert (await client.get(f"/c/{contest.slug}/results.csv")).status == 404  # still sealed: no counts
    assert "results.csv" not in await (await client.get(f"/c/{contest.slug}?lang=en")).text()
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == contest.id).values(status=ContestStatus.CLOSED))
    assert b"candidate,02,Candidate 02,3,300,XAF" in await (await client.get(f"/c/{contest.slug}/results.csv")).read()


async def test_a_sheet_signed_on_demand_while_voting_is_not_the_published_one(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules=RULES_OFF)
    await counted_order(sessions, contest)
    await signing.sign_results(sessions, signing.private_key(TEST_RESULTS_KEY), contest.id, reason="on_demand",
                               signed_by="auditor@example.org")
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == contest.id).values(
            status=ContestStatus.CLOSED, closes_at=datetime.now(UTC) - timedelta(minutes=1)))
    assert (await client.get(f"/c/{contest.slug}/results.csv")).status == 404  # the close sheet is not signed yet


async def test_names_that_look_like_formulas_reach_the_public_sheet_as_text(sessions: Sessions) -> None:
    contest = await make_contest(sessions, name='=HYPERLINK("http://evil.example","Results")', fraud_rules=RULES_OFF)
    async with sessions.begin() as session:
        await session.execute(update(Candidate).where(Candidate.contest_id == contest.id, Candidate.code == "02")
                              .values(name="@SUM(1+1)"))
    await counted_order(sessions, contest)
    signed = await signing.sign_results(sessions, signing.private_key(TEST_RESULTS_KEY), contest.id, reason="close",
                                        signed_by="system")
    rows = list(csv.reader(io.StringIO(signed.sheet.decode())))
    assert ["contest", contest.slug, '\'=HYPERLINK("http://evil.example","Results")', "", "", ""] in rows
    assert ["candidate", "02", "'@SUM(1+1)", "3", "300", "XAF"] in rows
    assert signing.signature_holds(signing.private_key(TEST_RESULTS_KEY).public_key(), signed.sheet, signed.signature)


async def test_many_addresses_together_cannot_guess_references_past_the_overall_limit(
        clean: None, settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"receipt_lookups_per_minute_total": 3}))
    async with TestClient(TestServer(app)) as client:
        await inside_one_window()
        for n in range(3):  # each from an address of its own (the test client is a trusted proxy)
            answer = await client.get("/api/v1/receipts/ABCDEF12", headers={"X-Forwarded-For": f"2001:db8:{n}::1"})
            assert answer.status == 404
        fourth = await client.get("/api/v1/receipts/ABCDEF12", headers={"X-Forwarded-For": "2001:db8:99::1"})
        assert fourth.status == 429 and (await fourth.json())["error"]["code"] == "rate_limited"
        await app[STARTS].close(grace=0)
