"""Admin accounts for tests: made as the product's own create_admin makes them, with TOTP set up as at a first
sign-in."""

from __future__ import annotations

import asyncio
import functools
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from sqlalchemy import select, update

from admin.accounts import add_admin, check_new_account, hash_password
from admin.settings import fernet_keys
from admin.totp_keys import TotpKeys
from gateway.db.engine import Sessions
from gateway.db.models import AdminUser
from gateway.kit.keys import SESSIONS
from tests.factories import TEST_TOTP_KEY

PASSWORD = "a long enough password"
TEST_TOTP_KEYS = TotpKeys.of(fernet_keys(TEST_TOTP_KEY))  # the suite's ADMIN_TOTP_KEYS (tests/conftest.py)


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    role: str
    secret: str

    def code(self, offset: int = 0) -> str:
        return pyotp.TOTP(self.secret).at(datetime.now(UTC) + timedelta(seconds=offset))


# The tests' accounts' passwords are hashed by Argon2id, as the product's are, at the lowest cost: at the product's
# (~0.17 s of CPU a check), the suite's few hundred sign-ins came to some 40 s of CPU a run. A sign-in reads the cost
# from the stored hash, so it runs the product's own code either way (Django's documentation gives the same advice: a
# fast hasher in tests). A test of what a check costs (the same time for an unknown email, a check under way holding no
# lock, a flood that must cost no checks) makes its account with `full_cost=True`.
LOW_COST = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


@functools.cache
def password_hash(password: str, full_cost: bool = False) -> str:
    """An Argon2id hash of a password, made once a process: the product's own (`hash_password`) with `full_cost`;
    the accounts made with one password share a salt, which no test looks at."""
    return hash_password(password) if full_cost else LOW_COST.hash(password)


async def make_account(sessions: Sessions, role: str, email: str | None = None, *, enrolled: bool = True,
                       full_cost: bool = False, totp_keys: TotpKeys = TEST_TOTP_KEYS) -> Account:
    """`create_admin`'s checks and account, its hash of PASSWORD made once (`password_hash`), its TOTP secret sealed
    with the suite's key (`totp_keys`: another's)."""
    checked = check_new_account(email or f"{role}@example.com", PASSWORD, role)
    made = await add_admin(sessions, totp_keys, checked, password_hash(PASSWORD, full_cost), role)
    secret = parse_qs(urlparse(made.totp_uri).query)["secret"][0]
    if enrolled:
        async with sessions.begin() as session:
            await session.execute(update(AdminUser).where(AdminUser.id == made.id)
                                  .values(totp_confirmed_at=datetime.now(UTC)))
    return Account(made.id, made.email, role, secret)


async def fresh_code(client: TestClient, account: Account) -> str:
    """A code the account has not signed in with yet, as a phone's clock a step either side of ours shows (the
    server takes the previous, current and next step): the oldest unused one, so a test's sign-ins rarely wait;
    else the next one after a wait (a code works once). The previous step's code is used only while the
    current step has seconds left, or the server's clock could pass it by before the code arrives."""
    otp = pyotp.TOTP(account.secret)
    while True:
        async with client.app[SESSIONS]() as session:
            last = await session.scalar(select(AdminUser.totp_last_step).where(AdminUser.id == account.id))
        now = time.time()
        step = otp.timecode(now)
        previous = (step - 1,) if otp.interval - now % otp.interval > 10 else ()
        unused = [s for s in (*previous, step, step + 1) if last is None or s > last]
        if unused:
            return otp.generate_otp(unused[0])
        await asyncio.sleep(otp.interval - time.time() % otp.interval + 0.05)


async def api_tokens(client: TestClient, account: Account) -> dict[str, Any]:
    response = await client.post("/api/v1/admin/token", json={
        "email": account.email, "password": PASSWORD, "code": await fresh_code(client, account)})
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert found, html
    return found.group(1)


async def browser_sign_in(client: TestClient, account: Account) -> str:
    """Sign in through the pages as a browser would; returns a CSRF token for the next forms."""
    page = await client.get("/admin/signin")
    token = csrf_token(await page.text())
    response = await client.post("/admin/signin", data={
        "csrf_token": token, "email": account.email, "password": PASSWORD, "code": await fresh_code(client, account)},
        allow_redirects=False)
    assert response.status == 303, await response.text()
    return token


def contest_fields(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "name": "Gala 2027", "slug": "gala-2027", "price_per_vote": 100, "currency": "XAF",
        "max_votes_per_order": 50, "opens_at": (now - timedelta(minutes=5)).isoformat(),
        "closes_at": (now + timedelta(days=3)).isoformat(), "providers": ["mtn", "orange"],
        "ussd_service_codes": ["*384*777#"], "sms_short_code": "20777", "sms_keyword": "GALA", "board": "live",
    }
    fields.update(overrides)
    return fields
