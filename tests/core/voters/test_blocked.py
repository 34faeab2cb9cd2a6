"""Blocked payer numbers and client addresses: listed, added and removed from the pages and the API by an
owner (audited; other roles may only look), and refused a vote before any payment prompt; an address
blocked while its order waits for the payment holds that order for a person."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from gateway.core.errors import DomainError
from gateway.core.orders import counting
from gateway.core.orders.outcomes import ConfirmOutcome
from gateway.core.voters.blocklist import parse_network
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, BlockedAddress, BlockedMsisdn, OrderStatus, VoteOrder
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, make_account
from tests.factories import make_contest, place, tallies

VOTER = "+237670000001"


async def count(sessions: Sessions, model: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def audited(sessions: Sessions, prefix: str) -> list[tuple[str, Any, Any]]:
    async with sessions() as session:
        rows = await session.execute(select(AuditEntry.action, AuditEntry.before, AuditEntry.after)
                                     .where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id))
    return [tuple(row) for row in rows]


def test_an_address_or_a_network_and_never_a_whole_operator() -> None:
    assert str(parse_network(" 203.0.113.7 ")) == "203.0.113.7/32"
    assert str(parse_network("203.0.113.9/24")) == "203.0.113.0/24"
    assert str(parse_network("2001:db8::1/48")) == "2001:db8::/48"
    # An IPv6 voter is known by their /64, so a narrower block is that /64 (a /128 would never match them).
    assert str(parse_network("2001:db8:1:2::5")) == "2001:db8:1:2::/64"
    assert str(parse_network("::ffff:203.0.113.7")) == "203.0.113.7/32"
    for wide in ("10.0.0.0/8", "2001::/16", "not an address", "203.0.113.0/33"):
        try:
            parse_network(wide)
        except DomainError as exc:
            assert exc.field == "address"
        else:
            raise AssertionError(wide)


async def vote(client: TestClient, slug: str, msisdn: str = VOTER) -> Any:
    return await client.post(f"/api/v1/contests/{slug}/votes", json={
        "candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": msisdn})


async def test_a_blocked_number_and_a_blocked_address_get_no_prompt(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    blocked = await client.post("/api/v1/admin/blocked/numbers", json={"msisdn": "670000001", "reason": "chargebacks"},
                                headers=owner)
    assert blocked.status == 201 and (await blocked.json())["blocked"] == VOTER
    refused = await vote(client, contest.slug)
    assert refused.status == 422, await refused.text()
    assert (await refused.json())["error"]["code"] == "msisdn_blocked"
    assert await count(sessions, VoteOrder) == 0  # no order, so no payment prompt

    # The test client connects from 127.0.0.1: its whole network is blocked.
    added = await client.post("/api/v1/admin/blocked/addresses", json={"address": "127.0.0.0/24"}, headers=owner)
    assert added.status == 201 and (await added.json())["blocked"] == "127.0.0.0/24"
    other = await vote(client, contest.slug, "+237670000002")
    assert other.status == 422 and (await other.json())["error"]["code"] == "address_blocked"
    assert await count(sessions, VoteOrder) == 0
    listed = await (await client.get("/api/v1/admin/blocked", headers=owner)).json()
    assert [n["value"] for n in listed["numbers"]] == [VOTER] and listed["numbers"][0]["reason"] == "chargebacks"
    assert [a["value"] for a in listed["addresses"]] == ["127.0.0.0/24"]

    for kind, body in (("numbers", {"msisdn": VOTER}), ("addresses", {"address": "127.0.0.0/24"})):
        removed = await client.post(f"/api/v1/admin/blocked/{kind}/remove", json=body, headers=owner)
        assert removed.status == 200
    again = await client.post("/api/v1/admin/blocked/addresses/remove", json={"address": "127.0.0.0/24"},
                              headers=owner)
    assert again.status == 404
    assert (await vote(client, contest.slug)).status == 201
    assert await audited(sessions, "blocked.") == [
        ("blocked.number.add", None, {"msisdn": VOTER, "reason": "chargebacks"}),
        ("blocked.address.add", None, {"address": "127.0.0.0/24", "reason": None}),
        ("blocked.number.remove", {"msisdn": VOTER, "reason": "chargebacks"}, None),
        ("blocked.address.remove", {"address": "127.0.0.0/24", "reason": None}, None),
    ]


async def test_an_ipv6_voter_behind_our_proxy_is_refused_by_the_address_blocked(client: TestClient,
                                                                              sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    added = await client.post("/api/v1/admin/blocked/addresses", json={"address": "2001:db8:1:2::5"}, headers=owner)
    assert added.status == 201 and (await added.json())["blocked"] == "2001:db8:1:2::/64"
    refused = await client.post(f"/api/v1/contests/{contest.slug}/votes", headers={
        "X-Forwarded-For": "2001:db8:1:2::5"}, json={"candidate": "01", "quantity": 1, "provider": "mtn",
                                                   "msisdn": VOTER})  # the test client is a trusted (loopback) proxy
    assert refused.status == 422 and (await refused.json())["error"]["code"] == "address_blocked"
    assert await count(sessions, VoteOrder) == 0


async def test_an_address_blocked_after_the_order_holds_it_at_confirmation(sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    order = await place(sessions, contest, voter_address="203.0.113.7")
    async with sessions.begin() as session:
        session.add(BlockedAddress(network=parse_network("203.0.113.0/24"), reason="bot farm"))
    outcome = await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, "t-1",
                                             provider="mtn")
    assert outcome is not ConfirmOutcome.COUNTED
    async with sessions() as session:
        held = await session.get(VoteOrder, order.id)
    assert held is not None and held.status is OrderStatus.HELD
    assert held.hold_reason is not None and held.hold_reason.startswith("blocked_address")
    assert (await tallies(sessions, contest.id))["01"] == 0
    unknown = await place(sessions, contest, msisdn="+237670000003", voter_address="unknown")
    counted = await counting.confirm_payment(sessions, unknown.id, "SUCCESSFUL", unknown.amount, unknown.currency,
                                             "t-2", provider="mtn")
    assert counted is ConfirmOutcome.COUNTED  # an address that is none blocks nothing, and breaks nothing


async def test_other_roles_only_look_and_the_page_blocks_and_unblocks(client: TestClient,
                                                                      sessions: Sessions) -> None:
    for role in ("auditor", "support", "organiser"):
        headers = bearer(await api_tokens(client, await make_account(sessions, role)))
        refused = await client.post("/api/v1/admin/blocked/numbers", json={"msisdn": VOTER}, headers=headers)
        assert refused.status == 403
        looked = await client.get("/api/v1/admin/blocked", headers=headers)
        assert looked.status == (403 if role == "organiser" else 200)
    assert await count(sessions, BlockedMsisdn) == 0 and await audited(sessions, "blocked.") == []

    token = await browser_sign_in(client, await make_account(sessions, "owner"))
    bad = await client.post("/admin/blocked/addresses", data={"csrf_token": token, "address": "0.0.0.0/0"})
    assert bad.status == 400 and "whole operator" in await bad.text()
    assert await count(sessions, BlockedAddress) == 0
    made = await client.post("/admin/blocked/addresses", data={"csrf_token": token, "address": "198.51.100.4",
                                                               "reason": "scripted votes"}, allow_redirects=False)
    assert made.status == 303
    page = await (await client.get("/admin/blocked")).text()
    assert "198.51.100.4/32" in page and "scripted votes" in page
    removed = await client.post("/admin/blocked/addresses/remove", data={"csrf_token": token,
                                                                       "address": "198.51.100.4/32"},
                                allow_redirects=False)
    assert removed.status == 303 and await count(sessions, BlockedAddress) == 0
