"""Signing in to the admin area: password and TOTP, enrolment, lockout, token expiry, refresh
rotation and every way a session is revoked."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from aiohttp.test_utils import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from admin import lockout, signin, tokens
from admin.accounts import change_password, set_active
from assembly.settings import DEV_SECRET_KEY
from gateway.core.audit import Actor
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry
from tests.admin.accounts import PASSWORD, api_tokens, bearer, browser_sign_in, csrf_token, fresh_code, make_account


async def audit_actions(sessions: Sessions) -> list[str]:
    async with sessions() as session:
        return list((await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all())


async def test_first_sign_in_shows_a_qr_code_and_needs_a_right_first_code(client: TestClient, sessions: Sessions
                                                                         ) -> None:
    account = await make_account(sessions, "organiser", enrolled=False)
    token = csrf_token(await (await client.get("/admin/signin")).text())
    wrong = await client.post("/api/v1/admin/token", json={"email": account.email, "password": "wrong password!"})
    assert wrong.status == 401  # the URI goes to the right password only

    page = await client.post("/admin/signin", data={"csrf_token": token, "email": account.email,
                                                     "password": PASSWORD, "code": ""})
    html = await page.text()
    assert page.status == 200 and "<svg" in html and "otpauth://totp/" in html
    ticket = html.split('name="ticket" value="')[1].split('"')[0]
    wrong = await client.post("/admin/enrol", data={"csrf_token": token, "ticket": ticket, "code": "000000"},
                              allow_redirects=False)
    assert wrong.status == 401 and "<svg" in await wrong.text()
    assert (await client.get("/admin/contests", allow_redirects=False)).status == 303  # still signed out

    right = await client.post("/admin/enrol", data={"csrf_token": token, "ticket": ticket, "code": account.code()},
                              allow_redirects=False)
    assert right.status == 303 and right.headers["Location"] == "/admin/contests"
    cookie = right.headers.getall("Set-Cookie")
    assert any("ballot_admin_access=" in c and "HttpOnly" in c and "SameSite=Strict" in c for c in cookie)
    assert (await client.get("/admin/contests")).status == 200
    assert (await api_tokens(client, account))["token_type"] == "Bearer"  # the API takes it from now on
    assert "admin.totp_enrol" in await audit_actions(sessions)


async def test_a_script_enrols_the_second_factor_through_the_api_without_a_browser(client: TestClient,
                                                                                  sessions: Sessions) -> None:
    account = await make_account(sessions, "organiser", enrolled=False)
    first = await client.post("/api/v1/admin/token", json={"email": account.email, "password": PASSWORD})
    assert first.status == 202 and first.headers["Cache-Control"] == "no-store"
    enrolment = await first.json()
    assert enrolment["status"] == "totp_enrolment_required" and "access_token" not in enrolment
    assert parse_qs(urlparse(enrolment["totp_uri"]).query)["secret"] == [account.secret]
    assert (await client.get("/api/v1/admin/contests", headers={"Authorization": "Bearer x"})).status == 401

    wrong = await client.post("/api/v1/admin/token/enrol", json={"enrol_ticket": enrolment["enrol_ticket"],
                                                                 "code": "000000"})
    assert wrong.status == 401 and (await wrong.json())["error"]["code"] == "sign_in_refused"
    forged = await client.post("/api/v1/admin/token/enrol", json={"enrol_ticket": "x.y.z", "code": account.code()})
    assert forged.status == 401
    again = await client.post("/api/v1/admin/token", json={"email": account.email, "password": PASSWORD})
    assert again.status == 202 and (await again.json())["totp_uri"] == enrolment["totp_uri"]  # until confirmed

    code = account.code()
    right = await client.post("/api/v1/admin/token/enrol", json={"enrol_ticket": enrolment["enrol_ticket"],
                                                                 "code": code})
    assert right.status == 200, await right.text()
    assert (await client.get("/api/v1/admin/contests", headers=bearer(await right.json()))).status == 200
    assert "admin.totp_enrol" in await audit_actions(sessions)
    # Confirmed: the URI is never given again, the ticket is spent, and the first code was used once.
    assert (await client.post("/api/v1/admin/token", json={"email": account.email, "password": PASSWORD,
                                                             "code": code})).status == 401
    assert (await client.post("/api/v1/admin/token/enrol", json={"enrol_ticket": enrolment["enrol_ticket"],
                                                                 "code": code})).status == 401
    assert (await api_tokens(client, account))["token_type"] == "Bearer"
    paths = (await (await client.get("/api/v1/admin/openapi.json")).json())["paths"]
    assert "otpauth URI" in paths["/api/v1/admin/token"]["post"]["summary"]
    assert "202" in paths["/api/v1/admin/token"]["post"]["responses"]
    assert "enrol_ticket" in paths["/api/v1/admin/token/enrol"]["post"]["summary"]


async def test_a_wrong_or_missing_code_is_refused_and_a_right_one_signs_in(client: TestClient, sessions: Sessions
                                                                          ) -> None:
    account = await make_account(sessions, "owner")
    for code in ("", "123456", account.code(offset=-600)):
        response = await client.post("/api/v1/admin/token", json={"email": account.email, "password": PASSWORD,
                                                                   "code": code})
        assert response.status == 401, code
    tokens_ = await api_tokens(client, account)
    response = await client.get("/api/v1/admin/contests", headers=bearer(tokens_))
    assert response.status == 200 and (await response.json())["contests"] == []
    assert (await client.get("/api/v1/admin/contests")).status == 401


async def test_a_code_signs_in_once_and_no_older_code_after_it(client: TestClient, sessions: Sessions) -> None:
    account = await make_account(sessions, "owner")
    now, following, previous = account.code(), account.code(offset=30), account.code(offset=-30)

    async def sign_in(code: str) -> int:
        return (await client.post("/api/v1/admin/token", json={"email": account.email, "password": PASSWORD,
                                                                "code": code})).status

    assert await sign_in(now) == 200
    assert await sign_in(now) == 401  # the same code again, still within its 30 seconds: someone saw it
    assert await sign_in(previous) == 401  # an older one, still within the clock-drift window
    assert await sign_in(following) == 200  # the next step's code is new
    assert await sign_in(now) == 401


def at(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}  # the tests' peer is a trusted proxy (loopback, outside production)


async def attempt(client: TestClient, email: str, password: str, code: str, address: str) -> tuple[int, Any]:
    response = await client.post("/api/v1/admin/token", headers=at(address),
                                 json={"email": email, "password": password, "code": code})
    return response.status, await response.json()


async def test_five_failures_refuse_that_address_only_and_the_owner_still_gets_in(client: TestClient,
                                                                                 sessions: Sessions) -> None:
    account = await make_account(sessions, "owner")
    for _ in range(5):
        status, _ = await attempt(client, account.email, "wrong password!", account.code(), "198.51.100.7")
        assert status == 401
    # The attacker's address is refused even the right password and code, with the answer any failure gets.
    status, body = await attempt(client, account.email, PASSWORD, await fresh_code(client, account), "198.51.100.7")
    assert (status, body["error"]["code"]) == (401, "sign_in_refused")
    assert (await audit_actions(sessions)).count("admin.locked") == 1
    # The owner, from their own address, is in.
    status, body = await attempt(client, account.email, PASSWORD, await fresh_code(client, account), "203.0.113.5")
    assert status == 200 and body["token_type"] == "Bearer"


async def test_failures_from_many_addresses_lock_nobody_out(client: TestClient, sessions: Sessions) -> None:
    account = await make_account(sessions, "organiser")
    for n in range(lockout.SLOW_AFTER + 5):  # a botnet: one wrong guess from each of many addresses
        status, _ = await attempt(client, account.email, PASSWORD, "000000", f"198.51.{n // 200}.{n % 200 + 1}")
        assert status == 401
    assert "admin.sign_in_slowed" in await audit_actions(sessions)
    for address in ("203.0.113.5", "2001:db8:77::1"):  # the owner, from home and from a fresh address
        started = time.monotonic()
        status, _ = await attempt(client, account.email, PASSWORD, await fresh_code(client, account), address)
        assert status == 200
        assert time.monotonic() - started >= lockout.SLOW_SECONDS  # slowed down, never refused


async def test_a_locked_pair_and_an_unknown_email_get_the_same_answer_in_the_same_time(
        client: TestClient, sessions: Sessions) -> None:
    account = await make_account(sessions, "owner", full_cost=True)  # as costly to check as the unknown one
    for _ in range(5):
        await attempt(client, account.email, "wrong password!", "000000", "198.51.100.9")

    async def timed(email: str) -> tuple[float, int, Any]:
        started = time.monotonic()
        status, body = await attempt(client, email, PASSWORD, account.code(), "198.51.100.9")
        return time.monotonic() - started, status, body

    locked, unknown = [], []
    for _ in range(5):  # taken in turn, so a burst of load on the machine slows both alike
        locked.append(await timed(account.email))
        unknown.append(await timed("nobody@example.com"))
    assert {(s, str(b)) for _, s, b in locked} == {(s, str(b)) for _, s, b in unknown} == {
        (401, str({"error": {"code": "sign_in_refused", "message": signin.WRONG}}))}
    # Both do one Argon2 check: neither answers in a fraction of the other's time. The quickest of each is the
    # work itself, what other processes on a shared machine add least to; a path that skipped the hash would answer
    # in a few milliseconds against the hash's tenths of a second, while a loaded machine was seen to put a factor
    # of two between two runs of the same work.
    assert min(t for t, _, _ in locked) > min(t for t, _, _ in unknown) / 4
    assert min(t for t, _, _ in unknown) > min(t for t, _, _ in locked) / 4

    token = csrf_token(await (await client.get("/admin/signin")).text())
    pages = set()
    for email in (account.email, "nobody@example.com"):
        page = await client.post("/admin/signin", headers=at("198.51.100.9"), data={
            "csrf_token": token, "email": email, "password": PASSWORD, "code": account.code()})
        pages.add((page.status, (await page.text()).replace(email, "EMAIL")))
    assert len(pages) == 1 and next(iter(pages))[0] == 401


async def test_an_expired_or_forged_access_token_is_refused(client: TestClient, sessions: Sessions) -> None:
    account = await make_account(sessions, "owner")
    issued = await api_tokens(client, account)
    key = tokens.signing_key(DEV_SECRET_KEY)
    family = tokens.decode_access(key, issued["access_token"]).family
    claims = tokens.AccessClaims(account.id, "owner", 0, family)
    old = tokens.encode_access(key, claims, datetime.now(UTC) - timedelta(minutes=16))
    fresh = tokens.encode_access(key, claims)
    forged = tokens.encode_access(tokens.signing_key("another key entirely, 32 chars long"), claims)
    assert (await client.get("/api/v1/admin/contests", headers={"Authorization": f"Bearer {fresh}"})).status == 200
    for token in (old, forged, "not.a.jwt"):
        assert (await client.get("/api/v1/admin/contests", headers={"Authorization": f"Bearer {token}"})).status == 401


async def test_a_refresh_token_rotates_and_a_reused_one_revokes_its_family(client: TestClient, sessions: Sessions
                                                                          ) -> None:
    account = await make_account(sessions, "owner")
    first = await api_tokens(client, account)
    second_response = await client.post("/api/v1/admin/token/refresh", json={"refresh_token": first["refresh_token"]})
    assert second_response.status == 200
    second = await second_response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/api/v1/admin/contests", headers=bearer(second))).status == 200

    reused = await client.post("/api/v1/admin/token/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status == 401
    # The whole family is gone: the newest refresh token and the access tokens issued with it.
    assert (await client.post("/api/v1/admin/token/refresh", json={"refresh_token": second["refresh_token"]})
            ).status == 401
    assert (await client.get("/api/v1/admin/contests", headers=bearer(second))).status == 401
    assert "admin.token_reuse" in await audit_actions(sessions)


async def test_sign_out_password_change_and_disabling_end_sessions(client: TestClient, sessions: Sessions) -> None:
    account = await make_account(sessions, "organiser")
    signed_out = await api_tokens(client, account)
    other = await api_tokens(client, account)
    assert (await client.post("/api/v1/admin/signout", headers=bearer(signed_out))).status == 200
    assert (await client.get("/api/v1/admin/contests", headers=bearer(signed_out))).status == 401
    assert (await client.post("/api/v1/admin/token/refresh", json={"refresh_token": signed_out["refresh_token"]})
            ).status == 401
    assert (await client.get("/api/v1/admin/contests", headers=bearer(other))).status == 200  # another session

    actor = Actor(account.id, account.email, account.role)
    await change_password(sessions, actor, PASSWORD, "a brand new long password")
    assert (await client.get("/api/v1/admin/contests", headers=bearer(other))).status == 401

    owner = Actor(None, "cli", "owner")
    again = await client.post("/api/v1/admin/token", json={"email": account.email,
                                                            "password": "a brand new long password",
                                                            "code": await fresh_code(client, account)})
    assert again.status == 200
    await set_active(sessions, owner, account.email, False)
    assert (await client.get("/api/v1/admin/contests", headers=bearer(await again.json()))).status == 401
    assert (await client.post("/api/v1/admin/token", json={"email": account.email,
                                                            "password": "a brand new long password",
                                                            "code": account.code()})).status == 401


async def test_an_expired_access_cookie_is_renewed_from_the_refresh_cookie(client: TestClient, sessions: Sessions
                                                                          ) -> None:
    account = await make_account(sessions, "owner")
    issued = await api_tokens(client, account)
    client.session.cookie_jar.update_cookies({"ballot_admin_access": "expired.or.junk",
                                              "ballot_admin_refresh": issued["refresh_token"]})
    page = await client.get("/admin/contests", allow_redirects=False)
    assert page.status == 200
    assert any("ballot_admin_refresh=" in c for c in page.headers.getall("Set-Cookie"))


async def test_postgresql_refuses_to_change_or_delete_audit_rows(client: TestClient, sessions: Sessions) -> None:
    await make_account(sessions, "owner")
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        async with sessions.begin() as session:
            try:
                await session.execute(text(statement))
            except DBAPIError as exc:
                assert "append-only" in str(exc)
            else:
                raise AssertionError(f"{statement} went through")
    async with sessions() as session:
        entry = await session.scalar(select(AuditEntry))
    assert entry is not None and entry.actor == "cli" and entry.action == "admin.create"


async def test_an_owner_disables_an_account_from_the_accounts_page(client: TestClient, sessions: Sessions) -> None:
    organiser = await make_account(sessions, "organiser")
    theirs = await api_tokens(client, organiser)
    owner = await make_account(sessions, "owner")
    token = await browser_sign_in(client, owner)
    page = await client.get("/admin/accounts")
    assert page.status == 200 and organiser.email in await page.text()
    own = await client.post(f"/admin/accounts/{owner.id}/disable", data={"csrf_token": token})
    assert own.status == 409
    refused = await client.post(f"/api/v1/admin/accounts/{owner.id}/disable", headers=bearer(theirs))
    assert refused.status == 403  # an organiser manages no account
    done = await client.post(f"/admin/accounts/{organiser.id}/disable", data={"csrf_token": token},
                             allow_redirects=False)
    assert done.status == 303
    assert (await client.get("/api/v1/admin/contests", headers=bearer(theirs))).status == 401
    assert (await audit_actions(sessions)).count("admin.disable") == 1
