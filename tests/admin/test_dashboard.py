"""A contest's dashboard: its figures equal direct SQL counts on a contest with orders in every state, it is
shown to the roles that may read the contest only, the invariant's difference shows in red, and it is live."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from admin import tokens
from admin.accounts import change_password
from assembly.settings import DEV_SECRET_KEY
from gateway.core.audit import Actor
from gateway.db.engine import Sessions
from gateway.db.models import ContestOrganiser
from tests.admin.accounts import PASSWORD, Account, api_tokens, bearer, make_account
from tests.admin.seeding import seeded_contest


async def sql(sessions: Sessions, statement: str, **params: Any) -> list[Any]:
    async with sessions() as session:
        return list((await session.execute(text(statement), params)).all())


def shares(rows: list[dict[str, Any]]) -> dict[str, tuple[int, int, int]]:
    return {r["key"]: (r["votes"], r["revenue"], r["orders"]) for r in rows}


async def expected_shares(sessions: Sessions, contest_id: int, key: str) -> dict[str, tuple[int, int, int]]:
    rows = await sql(sessions, f"SELECT {key}, sum(quantity), sum(amount), count(*) FROM vote_orders "
                               "WHERE contest_id = :c AND status = 'paid' GROUP BY 1", c=contest_id)
    return {str(k): (int(v), int(r), int(n)) for k, v, r, n in rows}


async def test_the_figures_equal_direct_sql_counts(client: TestClient, sessions: Sessions) -> None:
    contest = await seeded_contest(sessions)
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    response = await client.get(f"/api/v1/admin/contests/{contest.id}/dashboard", headers=owner)
    assert response.status == 200, await response.text()
    f = await response.json()

    assert shares(f["by_channel"]) == await expected_shares(sessions, contest.id, "channel::text")
    assert shares(f["by_provider"]) == await expected_shares(sessions, contest.id, "provider")
    assert sum(v for v, _, _ in shares(f["by_hour"]).values()) == 17
    assert shares(f["by_operator"]) == {"mtn": (7, 700, 3), "orange": (6, 600, 2), "none": (4, 400, 1)}
    statuses = dict(await sql(sessions, "SELECT status::text, count(*) FROM vote_orders WHERE contest_id = :c "
                                        "GROUP BY 1", c=contest.id))
    assert f["status_counts"] == statuses
    assert f["payment_success_rate"] == 10 / 14  # money moved for 10 (paid, held, flagged, refunds); 4 did not
    assert f["failure_reasons"][0] == ["insufficient funds", 2]
    assert sum(n for _, n in f["pending_ages"]) == statuses["pending"] == 2
    assert f["verification_backlog"] == (await sql(
        sessions, "SELECT count(*) FROM payment_verifications v JOIN vote_orders o ON o.id = v.order_id "
                  "WHERE o.contest_id = :c AND v.verified_at IS NULL", c=contest.id))[0][0] == 1
    assert (f["held_orders"], f["held_votes"]) == (1, 3)
    assert (f["failed_sms"], f["stuck_outbox"]) == (1, 1)
    paid = dict(await sql(sessions, "SELECT c.code, coalesce(sum(o.quantity), 0) FROM candidates c LEFT JOIN "
                                    "vote_orders o ON o.candidate_id = c.id AND o.status = 'paid' "
                                    "WHERE c.contest_id = :c GROUP BY 1", c=contest.id))
    assert {c["code"]: (c["tally"], c["paid_votes"], c["difference"]) for c in f["invariant"]} == {
        code: (votes, votes, 0) for code, votes in paid.items()}
    assert f["invariant_holds"] is True


async def test_a_tally_that_differs_from_its_paid_votes_shows_in_red(client: TestClient, sessions: Sessions) -> None:
    contest = await seeded_contest(sessions)
    async with sessions.begin() as session:
        await session.execute(text("UPDATE tallies SET votes = votes + 2 WHERE candidate_id = "
                                   "(SELECT id FROM candidates WHERE contest_id = :c AND code = '02')"),
                              {"c": contest.id})
    auditor = bearer(await api_tokens(client, await make_account(sessions, "auditor")))
    f = await (await client.get(f"/api/v1/admin/contests/{contest.id}/dashboard", headers=auditor)).json()
    assert [(c["code"], c["difference"]) for c in f["invariant"] if c["difference"]] == [("02", 2)]
    assert f["invariant_holds"] is False
    page = await client.get(f"/admin/contests/{contest.id}/dashboard", headers=auditor)
    html = await page.text()
    assert page.status == 200 and 'class="diff" style="color:#c00' in html and "<svg" in html
    assert "A tally differs from its paid votes." in html
    french = await (await client.get(f"/admin/contests/{contest.id}/dashboard", headers={
        **auditor, "Accept-Language": "fr-CM,fr;q=0.9"})).text()
    assert "Tableau de bord" in french and "Un décompte diffère de ses votes payés." in french


async def test_only_the_roles_that_read_the_contest_see_its_dashboard(client: TestClient, sessions: Sessions
                                                                      ) -> None:
    contest = await seeded_contest(sessions)
    path = f"/api/v1/admin/contests/{contest.id}/dashboard"
    theirs = await make_account(sessions, "organiser", "theirs@example.com")
    async with sessions.begin() as session:
        session.add(ContestOrganiser(contest_id=contest.id, admin_id=theirs.id))
    for role, status in (("owner", 200), ("auditor", 200), ("organiser", 404), ("support", 403)):
        headers = bearer(await api_tokens(client, await make_account(sessions, role)))
        assert (await client.get(path, headers=headers)).status == status, role
    assert (await client.get(path, headers=bearer(await api_tokens(client, theirs)))).status == 200
    assert (await client.get(path)).status == 401


async def test_the_stream_sends_the_figures_and_again_when_they_change(client: TestClient, sessions: Sessions
                                                                       ) -> None:
    contest = await seeded_contest(sessions)
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    response = await client.get(f"/admin/contests/{contest.id}/dashboard/stream", headers=owner)
    assert response.headers["Content-Type"].startswith("text/event-stream")
    first = await read_event(response)
    assert "Every tally equals its paid votes." in first
    async with sessions.begin() as session:
        await session.execute(text("UPDATE tallies SET votes = votes + 1 WHERE contest_id = :c "
                                   "AND candidate_id = (SELECT min(id) FROM candidates WHERE contest_id = :c)"),
                              {"c": contest.id})
    second = await read_event(response)
    assert "A tally differs from its paid votes." in second
    response.close()


async def read_event(response: Any) -> str:
    lines: list[str] = []
    while True:
        line = (await response.content.readline()).decode().rstrip("\n")
        if line == "" and any(item.startswith("data:") for item in lines):
            return "\n".join(item[6:] for item in lines if item.startswith("data: "))
        if line and not line.startswith(":"):
            lines.append(line)


async def ended_within(response: ClientResponse, seconds: float) -> float:
    """How long the open stream took to end (its body finished); fails if it is still open after `seconds`."""
    started = time.monotonic()
    await asyncio.wait_for(response.content.read(), seconds)
    return time.monotonic() - started


async def test_an_open_stream_ends_within_seconds_when_its_session_does(client: TestClient, sessions: Sessions
                                                                        ) -> None:
    contest = await seeded_contest(sessions)
    auditor = await make_account(sessions, "auditor")
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    path = f"/admin/contests/{contest.id}/dashboard/stream"

    async def open_stream(account: Account) -> tuple[dict[str, str], ClientResponse]:
        headers = bearer(await api_tokens(client, account))
        response = await client.get(path, headers=headers)
        assert response.status == 200 and "Every tally equals" in await read_event(response)
        return headers, response

    headers, signed_out = await open_stream(auditor)
    assert (await client.post("/api/v1/admin/signout", headers=headers)).status == 200
    assert await ended_within(signed_out, 8) < 8

    _, password_changed = await open_stream(auditor)
    await change_password(sessions, Actor(auditor.id, auditor.email, "auditor"), PASSWORD, PASSWORD + " anew")
    assert await ended_within(password_changed, 8) < 8

    await change_password(sessions, Actor(auditor.id, auditor.email, "auditor"), PASSWORD + " anew", PASSWORD)
    headers, disabled = await open_stream(auditor)
    other_routes = await client.get(f"/api/v1/admin/contests/{contest.id}/dashboard", headers=headers)
    assert other_routes.status == 200
    assert (await client.post(f"/api/v1/admin/accounts/{auditor.id}/disable", headers=owner)).status == 200
    assert (await client.get(f"/api/v1/admin/contests/{contest.id}/dashboard", headers=headers)).status == 401
    assert await ended_within(disabled, 8) < 8


async def test_an_open_stream_ends_when_its_access_token_expires(client: TestClient, sessions: Sessions) -> None:
    contest = await seeded_contest(sessions)
    account = await make_account(sessions, "owner")
    key = tokens.signing_key(DEV_SECRET_KEY)
    family = tokens.decode_access(key, (await api_tokens(client, account))["access_token"]).family
    issued_at = datetime.now(UTC) - tokens.ACCESS_TTL + timedelta(seconds=4)  # 4 seconds left to live
    short = tokens.encode_access(key, tokens.AccessClaims(account.id, "owner", 0, family), issued_at)
    response = await client.get(f"/admin/contests/{contest.id}/dashboard/stream",
                                headers={"Authorization": f"Bearer {short}"})
    assert response.status == 200 and "Every tally equals" in await read_event(response)
    assert await ended_within(response, 10) < 10
    again = await client.get(f"/admin/contests/{contest.id}/dashboard/stream",
                             headers={"Authorization": f"Bearer {short}"}, allow_redirects=False)
    assert again.status == 303 and again.headers["Location"] == "/admin/signin"


async def test_a_stream_opened_with_an_expired_access_cookie_hands_the_browser_its_new_cookies(
        client: TestClient, sessions: Sessions) -> None:
    contest = await seeded_contest(sessions)
    issued = await api_tokens(client, await make_account(sessions, "owner"))
    client.session.cookie_jar.update_cookies({"ballot_admin_access": "expired.or.junk",
                                              "ballot_admin_refresh": issued["refresh_token"]})
    response = await client.get(f"/admin/contests/{contest.id}/dashboard/stream")
    assert response.status == 200 and "Every tally equals" in await read_event(response)
    assert any(c.startswith("ballot_admin_refresh=") for c in response.headers.getall("Set-Cookie"))
    response.close()
    # The rotated refresh cookie the browser now holds still works: no reuse was seen, the session stands.
    page = await client.get("/admin/contests", allow_redirects=False)
    assert page.status == 200
