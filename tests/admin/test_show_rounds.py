"""A show's rounds from the admin area: an organiser plans rounds (price in major units), a producer opens the lines
and closes them on air from the control room (each with its confirmation ticked) or through the API, and the
organiser decides who goes through; the public contest then offers the open round's price and candidates only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from gateway.core.contests import rounds
from gateway.core.results import signing
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, ContestRound, ContestStatus
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, make_account
from tests.factories import make_contest
from tests.show_rounds import OWNER, a_show

NBSP = "\u00a0"


async def vote_refused(client: TestClient, slug: str) -> str | None:
    """The refusal's code of a web vote now, None when the vote is taken."""
    response = await client.post(f"/api/v1/contests/{slug}/votes", json={
        "candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": "+237670000001"})
    return None if response.status in (200, 201, 202) else str((await response.json())["error"]["code"])


async def test_a_producer_opens_and_closes_a_rounds_lines_on_air_and_the_organiser_decides(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="talent", candidates=3, status=ContestStatus.DRAFT)
    owner = await make_account(sessions, "owner", "producer@example.com")
    headers = bearer(await api_tokens(client, owner))
    api = f"/api/v1/admin/contests/{contest.id}"
    later = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    refused = await client.post(f"{api}/rounds", json={"name": "Heats", "price": "abc", "closes_at": later},
                                headers=headers)
    assert refused.status == 400 and (await refused.json())["error"]["field"] == "price"
    planned = await client.post(f"{api}/rounds", json={"name": "Heats", "price": "150", "closes_at": later},
                                headers=headers)
    assert planned.status == 201 and (await planned.json())["price_per_vote"] == 150

    token = await browser_sign_in(client, owner)
    page = await (await client.get("/admin/control")).text()
    assert "Open the lines of round 1 (Heats)" in page
    unconfirmed = await client.post(f"/admin/control/lines/{contest.id}/open/1", data={"csrf_token": token},
                                    allow_redirects=False)
    assert unconfirmed.status == 400
    assert await vote_refused(client, "talent") == "contest_not_open"
    opened = await client.post(f"/admin/control/lines/{contest.id}/open/1",
                               data={"csrf_token": token, "confirm": "1"}, allow_redirects=False)
    assert opened.status == 303
    public = await (await client.get("/api/v1/contests/talent")).json()
    assert public["status"] == "open" and public["price_per_vote"] == 150

    closed = await client.post(f"/admin/control/lines/{contest.id}/close",
                               data={"csrf_token": token, "confirm": "1", "countdown_seconds": "0"},
                               allow_redirects=False)
    assert closed.status == 303
    assert await vote_refused(client, "talent") == "contest_closed"  # from that instant
    again = await client.post(f"{api}/lines/close", json={"countdown_seconds": 0}, headers=headers)
    assert again.status == 409 and (await again.json())["error"]["code"] == "lines_closed"

    early = await client.post(f"{api}/rounds/1/decide", json={"places": 2}, headers=headers)
    assert early.status == 409 and (await early.json())["error"]["code"] == "late_payments_may_count"
    async with sessions.begin() as session:  # the late payments' grace has passed
        await session.execute(update(ContestRound).values(closes_at=datetime.now(UTC) - timedelta(minutes=10)))
    decided = await client.post(f"{api}/rounds/1/decide", json={"through": "01,03", "reason": "02 withdrew"},
                                headers=headers)
    assert decided.status == 200
    body = await decided.json()
    assert body["decided_by"] == "hand" and {r["code"]: r["went_through"] for r in body["board"]} == {
        "01": True, "02": False, "03": True}
    sheet = await client.get("/c/talent/rounds/1/results.csv")
    signature = await client.get("/c/talent/rounds/1/results.csv.sig")
    assert sheet.status == 200 and b"through,01" in await sheet.read()
    public_key = await (await client.get("/.well-known/ballot-results-key")).text()
    assert signing.signature_holds(signing.public_key(public_key.encode()), await sheet.read(), await signature.read())
    assert (await client.get("/c/talent/rounds/2/results.csv")).status == 404
    listed = await (await client.get(f"{api}/rounds", headers=headers)).json()
    assert listed["rounds"][0]["status"] == "decided" and "tied" in listed["tie_rule"]
    public = await (await client.get("/api/v1/contests/talent")).json()
    assert [c["code"] for c in public["candidates"]] == ["01", "03"]


async def test_a_support_account_cannot_touch_the_lines(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala")
    support = bearer(await api_tokens(client, await make_account(sessions, "support", "support@example.com")))
    response = await client.post(f"/api/v1/admin/contests/{contest.id}/lines/close", json={}, headers=support)
    assert response.status == 403
    assert await vote_refused(client, "gala") is None


async def test_an_organiser_plans_a_round_on_its_page_on_the_contests_clock_and_decides_it_by_hand(
        client: TestClient, sessions: Sessions) -> None:
    # Airtel Money and cards charge shillings with cents (M-Pesa's whole shillings would refuse KES 10.50).
    contest = await make_contest(sessions, slug="pageant", candidates=3, status=ContestStatus.DRAFT, country="KE",
                                 currency="KES", time_zone="Africa/Nairobi", providers=["airtel", "stripe"])
    owner = await make_account(sessions, "owner", "organiser@example.com")
    token = await browser_sign_in(client, owner)
    page = f"/admin/contests/{contest.id}/rounds"
    wall = (datetime.now(UTC) + timedelta(days=1)).astimezone(ZoneInfo("Africa/Nairobi")).replace(tzinfo=None)
    bad = await client.post(page, data={"csrf_token": token, "name": "Heats", "price": "10.505",
                                        "closes_at": wall.strftime("%Y-%m-%dT%H:%M")})
    assert bad.status == 400 and "Heats" not in (await bad.text()).split("Plan the next round")[0]
    dear = await client.post(page, data={"csrf_token": token, "name": "Heats", "price": "10.50", "tier_votes_1": "10",
                                         "tier_amount_1": "200", "closes_at": wall.strftime("%Y-%m-%dT%H:%M")})
    assert dear.status == 400 and "costs more than 10 single votes" in await dear.text()
    planned = await client.post(page, data={"csrf_token": token, "name": "Heats", "price": "10.50",
                                            "tier_votes_1": "10", "tier_amount_1": "100",
                                            "closes_at": wall.strftime("%Y-%m-%dT%H:%M")},
                                allow_redirects=False)
    assert planned.status == 303
    async with sessions() as session:
        [row] = (await session.scalars(select(ContestRound))).all()
    assert row.price_per_vote == 1050 and row.price_tiers == [{"votes": 10, "amount": 10000}]  # shillings typed
    assert row.closes_at == wall.replace(second=0, microsecond=0, tzinfo=ZoneInfo("Africa/Nairobi"))

    headers = bearer(await api_tokens(client, owner))
    assert (await client.post(f"/api/v1/admin/contests/{contest.id}/rounds/1/open", json={},
                              headers=headers)).status == 200
    async with sessions.begin() as session:  # lines closed long enough ago for no late payment to count
        await session.execute(update(ContestRound).values(closes_at=datetime.now(UTC) - timedelta(minutes=10)))
    no_reason = await client.post(f"{page}/1/decide", data={"csrf_token": token, "by": "hand", "through": "02",
                                                            "reason": ""})
    assert no_reason.status == 400 and "audit log" in await no_reason.text()
    decided = await client.post(f"{page}/1/decide", data={"csrf_token": token, "by": "hand", "through": "02,03",
                                                          "reason": "01 is unwell"}, allow_redirects=False)
    assert decided.status == 303
    shown = await (await client.get(page)).text()
    assert "Decided by hand: 01 is unwell" in shown and "/c/pageant/rounds/1/results.csv" in shown


async def test_a_round_decided_whose_signing_failed_is_signed_on_the_next_try(client: TestClient,
                                                                             sessions: Sessions) -> None:
    contest, _ = await a_show(sessions)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    closed_at = await rounds.close_lines(sessions, OWNER, contest.id)
    # Decided, and then the signing did not happen (its process died, or the ledger did not verify then).
    await rounds.decide_round(sessions, OWNER, contest.id, 1, places=2, now=closed_at + rounds.DEFAULT_LATE_GRACE)
    headers = bearer(await api_tokens(client, await make_account(sessions, "owner", "producer@example.com")))
    url = f"/api/v1/admin/contests/{contest.id}/rounds/1/decide"
    signed = await client.post(url, json={"places": 2}, headers=headers)
    assert signed.status == 200, await signed.text()
    assert (await client.get(f"/c/{contest.slug}/rounds/1/results.csv")).status == 200
    again = await client.post(url, json={"places": 2}, headers=headers)
    assert again.status == 409 and (await again.json())["error"]["code"] == "invalid_transition"


async def planned_rounds(sessions: Sessions) -> list[tuple[str, int]]:
    async with sessions() as session:
        return [(row.name, row.price_per_vote) for row in (await session.scalars(select(ContestRound))).all()]


async def test_a_round_priced_in_half_shillings_is_refused_for_an_mpesa_contest_through_the_api(
        client: TestClient, sessions: Sessions) -> None:
    """The round's price becomes the contest's when its lines open: M-Pesa charges whole shillings, so a final at
    KES 10.50 would have failed every odd-quantity vote on air. It is refused when planned, as the contest form
    refuses it, and nothing is planned."""
    contest = await make_contest(sessions, candidates=3, status=ContestStatus.DRAFT, currency="KES", country="KE",
                                 price_per_vote=1000, providers=["mpesa"], ussd_service_codes=[])
    headers = bearer(await api_tokens(client, await make_account(sessions, "owner", "organiser@example.com")))
    api = f"/api/v1/admin/contests/{contest.id}/rounds"
    later = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    refused = await client.post(api, json={"name": "Final", "price": "10.50", "closes_at": later}, headers=headers)
    error = (await refused.json())["error"]
    assert refused.status == 400 and error["code"] == "price_not_chargeable" and error["field"] == "price_per_vote"
    assert error["message"] == f"M-Pesa charges whole Kenyan shillings: Ksh{NBSP}10.00 or Ksh{NBSP}11.00."
    bundle = await client.post(api, headers=headers, json={"name": "Final", "price": "10", "closes_at": later,
                                                           "price_tiers": [{"votes": 5, "amount": 4550}]})
    error = (await bundle.json())["error"]
    assert bundle.status == 400 and error["code"] == "price_not_chargeable" and error["field"] == "price_tiers"
    assert error["message"].startswith("The bundle of 5 votes: M-Pesa charges whole Kenyan shillings")
    assert (await (await client.get(api, headers=headers)).json())["rounds"] == []
    async with sessions() as session:
        assert await session.scalar(select(AuditEntry.id).where(AuditEntry.action == "round.plan")) is None

    planned = await client.post(api, headers=headers, json={"name": "Final", "price": "11", "closes_at": later,
                                                            "price_tiers": [{"votes": 5, "amount": 5000}]})
    assert planned.status == 201, await planned.text()
    assert await planned_rounds(sessions) == [("Final", 1100)]


async def test_a_round_a_card_cannot_charge_is_refused_on_its_page_and_nothing_is_planned(
        client: TestClient, sessions: Sessions) -> None:
    """A card payment is at least about FCFA 330: a round at FCFA 100 a vote and three votes an order at most would
    have failed every card order (`amount_too_small`), and so would a bundle of three at FCFA 300."""
    contest = await make_contest(sessions, candidates=3, status=ContestStatus.DRAFT, currency="XAF",
                                 max_votes_per_order=3, providers=["mtn", "stripe"])
    token = await browser_sign_in(client, await make_account(sessions, "owner", "organiser@example.com"))
    page = f"/admin/contests/{contest.id}/rounds"
    closes = (datetime.now(UTC) + timedelta(days=1)).astimezone(ZoneInfo(contest.time_zone)).strftime("%Y-%m-%dT%H:%M")
    refused = await client.post(page, data={"csrf_token": token, "name": "Final", "price": "100", "closes_at": closes})
    assert refused.status == 400
    assert (f"Bank card charges at least FCFA{NBSP}330 a payment, more than the largest order here (3 votes): a vote "
            f"at FCFA{NBSP}110 or more.") in await refused.text()
    bundle = await client.post(page, data={"csrf_token": token, "name": "Final", "price": "110", "tier_votes_1": "3",
                                           "tier_amount_1": "300", "closes_at": closes})
    assert bundle.status == 400
    shown = await bundle.text()
    assert f"The bundle of 3 votes: Bank card charges at least FCFA{NBSP}330 a payment" in shown
    # The form comes back as the organiser typed it, to mend the bundle alone.
    for field, value in (("name", "Final"), ("price", "110"), ("closes_at", closes), ("tier_votes_1", "3"),
                         ("tier_amount_1", "300")):
        assert re.search(rf'<input id="{field}" name="{field}"[^>]* value="{re.escape(value)}"', shown), field
    assert await planned_rounds(sessions) == []
    assert "No round yet" in await (await client.get(page)).text()

    planned = await client.post(page, data={"csrf_token": token, "name": "Final", "price": "110", "closes_at": closes},
                                allow_redirects=False)
    assert planned.status == 303
    assert await planned_rounds(sessions) == [("Final", 110)]
