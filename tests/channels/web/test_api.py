"""The public JSON API: what a web voter or a partner integration sees."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.db.engine import Sessions
from gateway.db.models import CandidateStatus, ContestStatus, SharedAddress
from tests.factories import count_orders, make_contest
from tests.servers import inside_one_window

VOTE = {"candidate": "02", "quantity": 3, "provider": "mtn", "msisdn": "+237 670 00 00 01"}


async def test_contests_list_shows_public_contests_only(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala", name="Gala 2026")
    await make_contest(sessions, slug="secret", status=ContestStatus.DRAFT)
    response = await client.get("/api/v1/contests")
    assert response.status == 200
    body = await response.json()
    assert [c["slug"] for c in body["contests"]] == ["gala"]
    assert body["contests"][0]["price_per_vote"] == 100 and body["contests"][0]["currency"] == "XAF"


async def test_contest_detail_lists_active_candidates(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala", candidates=4,
                       candidate_status={"02": CandidateStatus.ELIMINATED, "03": CandidateStatus.HIDDEN})
    body = await (await client.get("/api/v1/contests/gala")).json()
    assert [c["code"] for c in body["candidates"]] == ["01", "04"]
    assert body["ussd_service_codes"] == ["*384*999#"]


async def test_unknown_contest_is_a_json_404(client: TestClient) -> None:
    response = await client.get("/api/v1/contests/nope")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "contest_not_found"


async def test_vote_creates_pending_order_and_says_what_to_do(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    response = await client.post("/api/v1/contests/gala/votes", json=VOTE)
    assert response.status == 201
    body = await response.json()
    order = body["order"]
    assert order["status"] == "pending"
    assert (order["candidate"], order["quantity"], order["amount"], order["currency"]) == ("02", 3, 300, "XAF")
    assert order["msisdn"] == "+2376*****001"  # masked: order links get shared
    assert order["minor_digits"] == 0  # XAF has no cents: 300 is 300 francs
    assert body["next"] == {"action": "approve_on_phone", "approval": "menu_approval", "url": None,
                            "message": "Approve the payment of FCFA\u00a0300 on your phone to confirm your vote."}
    fetched = await (await client.get(f"/api/v1/orders/{order['id']}")).json()
    assert fetched["id"] == order["id"] and fetched["status"] == "pending"


@pytest.mark.parametrize(("language", "message"), [
    ("fr", "Validez le paiement de 30,00\u00a0KES sur votre téléphone pour confirmer votre vote."),
    ("sw", "Thibitisha malipo ya Ksh\u00a030.00 kwenye simu yako ili kuthibitisha kura yako."),
    ("en", "Approve the payment of Ksh\u00a030.00 on your phone to confirm your vote.")])
async def test_the_next_step_names_the_amount_as_money_in_the_client_s_language(
        client: TestClient, sessions: Sessions, language: str, message: str) -> None:
    await make_contest(sessions, slug="nairobi", currency="KES", country="KE", price_per_vote=1000,
                       providers=["airtel"])
    response = await client.post("/api/v1/contests/nairobi/votes", headers={"Accept-Language": language}, json={
        "candidate": "02", "quantity": 3, "provider": "airtel", "msisdn": "0733 000 101"})
    body = await response.json()
    assert response.status == 201, body
    assert (body["order"]["amount"], body["order"]["minor_digits"]) == (3000, 2)  # KES 30.00, in cents
    assert body["next"]["message"] == message
    contest = await (await client.get("/api/v1/contests/nairobi")).json()
    assert (contest["price_per_vote"], contest["minor_digits"], contest["country"]) == (1000, 2, "KE")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({k: v for k, v in VOTE.items() if k != "candidate"}, 422, "candidate"),
        ({**VOTE, "quantity": "3"}, 422, "quantity"),
        ({**VOTE, "quantity": 0}, 422, "quantity"),
        ({**VOTE, "quantity": 101}, 422, "quantity"),
        ({**VOTE, "candidate": "7; DROP TABLE vote_orders"}, 422, "candidate"),
        ({**VOTE, "candidate": "99"}, 422, "candidate"),
        ({**VOTE, "provider": "paypal"}, 422, "provider"),
        ({**VOTE, "msisdn": None}, 422, "msisdn"),
        ({**VOTE, "msisdn": "not a phone"}, 422, "msisdn"),
        ({**VOTE, "extra": 1}, 422, "extra"),
        ({**VOTE, "msisdn": "9" * 500}, 422, "msisdn"),
        ({**VOTE, "msisdn": "+49 30 000000000000"}, 422, "msisdn"),  # valid to phonenumbers, past E.164's 15 digits
    ],
)
async def test_bad_vote_gets_a_4xx_naming_the_field_and_creates_nothing(
    client: TestClient, sessions: Sessions, body: dict[str, Any], status: int, field: str
) -> None:
    await make_contest(sessions, slug="gala")
    response = await client.post("/api/v1/contests/gala/votes", json=body)
    assert response.status == status
    error = (await response.json())["error"]
    assert error["field"] == field and error["message"]
    assert await count_orders(sessions) == 0


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", "é".encode("latin-1")])
async def test_malformed_body_is_a_400(client: TestClient, sessions: Sessions, raw: bytes) -> None:
    await make_contest(sessions, slug="gala")
    response = await client.post("/api/v1/contests/gala/votes", data=raw,
                                 headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_json"
    assert await count_orders(sessions) == 0


async def test_oversized_body_is_rejected(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    response = await client.post("/api/v1/contests/gala/votes", data=b"x" * 200_000)
    assert response.status == 413
    assert "error" in await response.json()
    assert await count_orders(sessions) == 0


@pytest.mark.parametrize("content_type", [
    "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b",
    "application/jsonp", None])
async def test_a_vote_not_sent_as_json_is_a_415_and_creates_nothing(client: TestClient, sessions: Sessions,
                                                                    content_type: str | None) -> None:
    """What a cross-site form can send without the browser asking first (text/plain, form encodings): a
    valid vote in the body is still refused."""
    await make_contest(sessions, slug="gala")
    headers = {"Content-Type": content_type} if content_type else {"Content-Type": ""}
    response = await client.post("/api/v1/contests/gala/votes", data=json.dumps(VOTE).encode(), headers=headers)
    assert response.status == 415
    assert (await response.json())["error"]["code"] == "unsupported_media_type"
    assert await count_orders(sessions) == 0


async def test_a_vote_sent_as_json_with_a_charset_is_taken(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    response = await client.post("/api/v1/contests/gala/votes", data=json.dumps(VOTE).encode(),
                                 headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status == 201
    assert await count_orders(sessions) == 1


async def test_vote_on_closed_contest_is_refused(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala", status=ContestStatus.CLOSED)
    response = await client.post("/api/v1/contests/gala/votes", json=VOTE)
    assert response.status == 422
    assert (await response.json())["error"]["code"] == "contest_not_open"
    assert await count_orders(sessions) == 0


async def test_idempotency_key_replay_returns_the_same_order(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    headers = {"Idempotency-Key": "abc-123"}
    first = await (await client.post("/api/v1/contests/gala/votes", json=VOTE, headers=headers)).json()
    second = await (await client.post("/api/v1/contests/gala/votes", json=VOTE, headers=headers)).json()
    assert first["order"]["id"] == second["order"]["id"]
    assert await count_orders(sessions) == 1


async def test_an_idempotency_key_is_scoped_to_the_payer(client: TestClient, sessions: Sessions) -> None:
    """Another client reusing a key (a counter, a copied example) gets an order of its own, never the
    first payer's; each payer replaying the key gets its own order back."""
    await make_contest(sessions, slug="gala")
    headers = {"Idempotency-Key": "order-1"}
    alice = {**VOTE, "msisdn": "+237670000001"}
    bob = {**VOTE, "msisdn": "+237 670 00 00 02", "quantity": 1}
    first = await (await client.post("/api/v1/contests/gala/votes", json=alice, headers=headers)).json()
    other = await client.post("/api/v1/contests/gala/votes", json=bob, headers=headers)
    assert other.status == 201
    theirs = (await other.json())["order"]
    assert theirs["id"] != first["order"]["id"]
    assert (theirs["msisdn"], theirs["quantity"]) == ("+2376*****002", 1)  # bob's order, not alice's
    for payer, mine in ((alice, first["order"]), (bob, theirs)):
        again = await (await client.post("/api/v1/contests/gala/votes", json=payer, headers=headers)).json()
        assert (again["order"]["id"], again["order"]["msisdn"]) == (mine["id"], mine["msisdn"])
    assert await count_orders(sessions) == 2


@pytest.mark.parametrize("order_id", ["3f2b6c1e-8d4a-4c7e-9b1f-5a6d7e8f9012", "not-a-uuid", "1' OR '1'='1"])
async def test_unknown_order_is_a_json_404(client: TestClient, order_id: str) -> None:
    response = await client.get(f"/api/v1/orders/{order_id}")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "order_not_found"


async def test_unknown_route_and_wrong_method_answer_json(client: TestClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status == 404 and "error" in await missing.json()
    wrong = await client.delete("/api/v1/contests")
    assert wrong.status == 405 and "error" in await wrong.json()
    assert "GET" in wrong.headers["Allow"]


async def test_responses_carry_a_request_id(client: TestClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": "trace-42"})
    assert response.headers["X-Request-Id"] == "trace-42"
    assert len((await client.get("/healthz")).headers["X-Request-Id"]) == 32


# These tests' 31 to 64 votes must fall in one window of the per-minute limits: a second or two here, but a machine
# with every core busy has taken over 10 s.
WINDOW_NEEDED = 30


async def test_vote_creation_is_limited_per_address(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    await inside_one_window(needed_seconds=WINDOW_NEEDED)
    statuses = []
    for i in range(32):
        response = await client.post("/api/v1/contests/gala/votes", json={**VOTE, "msisdn": f"+23767000{i:04d}"})
        statuses.append(response.status)
    assert statuses[:30] == [201] * 30
    assert statuses[30:] == [429, 429]
    assert (await response.json())["error"]["code"] == "rate_limited"
    assert await count_orders(sessions) == 30


ORANGE_CAMEROUN = "41.202.192.7"  # in 41.202.192.0/19, a carrier-grade NAT address of Orange Cameroun


async def votes_from(client: TestClient, address: str, bodies: list[dict[str, Any]]) -> list[int]:
    statuses = []
    for body in bodies:
        response = await client.post("/api/v1/contests/gala/votes", json=body, headers={"X-Forwarded-For": address})
        statuses.append(response.status)
    return statuses


async def test_forty_voters_behind_one_carrier_address_all_vote_within_a_minute(
        client: TestClient, sessions: Sessions) -> None:
    """Behind a mobile operator's address thousands of subscribers reach us: the per-address limit allows a crowd
    there, as the fraud rules do, while an ordinary address keeps one person's."""
    await make_contest(sessions, slug="gala")
    await inside_one_window(needed_seconds=WINDOW_NEEDED)
    crowd = [{**VOTE, "msisdn": f"+23769{i:07d}"} for i in range(40)]
    assert await votes_from(client, ORANGE_CAMEROUN, crowd) == [201] * 40
    assert await count_orders(sessions) == 40
    assert await votes_from(client, "198.51.100.7", crowd[:31]) == [201] * 30 + [429]


async def test_an_address_the_service_learned_is_shared_gets_a_crowds_allowance(
        client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    async with sessions.begin() as session:
        session.add(SharedAddress(address="198.51.100.9", numbers=45, paid_orders=60))
    await inside_one_window(needed_seconds=WINDOW_NEEDED)
    crowd = [{**VOTE, "msisdn": f"+23769{i:07d}"} for i in range(40)]
    assert await votes_from(client, "198.51.100.9", crowd) == [201] * 40


async def test_one_abuser_behind_a_carrier_address_keeps_one_persons_allowance(
        client: TestClient, sessions: Sessions) -> None:
    """The crowd's allowance is the address's: one payer number, or votes naming no number, still get a person's
    (the contest here sets no per-number limit of its own)."""
    await make_contest(sessions, slug="gala")
    await inside_one_window(needed_seconds=WINDOW_NEEDED)
    same_number = [{**VOTE, "quantity": 1}] * 31
    assert await votes_from(client, ORANGE_CAMEROUN, same_number) == [201] * 30 + [429]
    response = await client.post("/api/v1/contests/gala/votes", json=VOTE, headers={"X-Forwarded-For": ORANGE_CAMEROUN})
    assert (await response.json())["error"]["message"].startswith("Too many votes from this number")
    written_otherwise = {**VOTE, "msisdn": "00237 6 70 00 00 01"}  # the same number, as another phone writes it
    assert await votes_from(client, ORANGE_CAMEROUN, [written_otherwise]) == [429]
    no_number = [{k: v for k, v in VOTE.items() if k != "msisdn"}] * 31  # refused (no number), yet counted
    assert await votes_from(client, ORANGE_CAMEROUN, no_number) == [422] * 30 + [429]
    assert await count_orders(sessions) == 30
