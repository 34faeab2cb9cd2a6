"""The enrolment ticket a right first password gives: it never outlives its first ten minutes (a wrong code
hands back the same ticket), a password change cancels it, it is spent once the secret is confirmed, and
/admin/enrol and /token/enrol count against the address's sign-in attempts."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient

from admin.accounts import change_password
from gateway.core.audit import Actor
from gateway.db.engine import Sessions
from tests.admin.accounts import PASSWORD, csrf_token, make_account
from tests.servers import inside_one_window


def ticket_of(html: str) -> str:
    return html.split('name="ticket" value="')[1].split('"')[0]


async def first_sign_in(client: TestClient, email: str) -> tuple[str, str]:
    """The CSRF token and the enrol ticket of a first sign-in through the pages."""
    token = csrf_token(await (await client.get("/admin/signin")).text())
    page = await client.post("/admin/signin", data={"csrf_token": token, "email": email, "password": PASSWORD,
                                                     "code": ""})
    assert page.status == 200
    return token, ticket_of(await page.text())


async def test_a_wrong_first_code_hands_back_the_same_ticket_not_a_longer_one(client: TestClient,
                                                                             sessions: Sessions) -> None:
    account = await make_account(sessions, "organiser", enrolled=False)
    token, ticket = await first_sign_in(client, account.email)
    await asyncio.sleep(1.1)  # a ticket made now would expire a second later than the first one
    wrong = await client.post("/admin/enrol", data={"csrf_token": token, "ticket": ticket, "code": "000000"})
    assert wrong.status == 401 and ticket_of(await wrong.text()) == ticket


async def test_a_password_change_cancels_a_pending_enrol_ticket(client: TestClient, sessions: Sessions) -> None:
    account = await make_account(sessions, "organiser", enrolled=False)
    token, ticket = await first_sign_in(client, account.email)
    api = await client.post("/api/v1/admin/token", json={"email": account.email, "password": PASSWORD})
    api_ticket = (await api.json())["enrol_ticket"]
    await change_password(sessions, Actor(account.id, account.email, account.role), PASSWORD,
                          "the owner's new long password")
    # Whoever kept the old password's ticket gets neither the secret again nor the account.
    wrong = await client.post("/admin/enrol", data={"csrf_token": token, "ticket": ticket, "code": "000000"})
    assert wrong.status == 401 and "otpauth://" not in await wrong.text() and "<svg" not in await wrong.text()
    right = await client.post("/admin/enrol", data={"csrf_token": token, "ticket": ticket, "code": account.code()},
                              allow_redirects=False)
    assert right.status == 401
    assert (await client.post("/api/v1/admin/token/enrol", json={"enrol_ticket": api_ticket,
                                                                 "code": account.code()})).status == 401
    assert (await client.get("/admin/contests", allow_redirects=False)).status == 303  # still signed out


async def test_an_enrol_ticket_is_spent_once_the_secret_is_confirmed(client: TestClient, sessions: Sessions
                                                                    ) -> None:
    account = await make_account(sessions, "organiser", enrolled=False)
    token, ticket = await first_sign_in(client, account.email)
    right = await client.post("/admin/enrol", data={"csrf_token": token, "ticket": ticket, "code": account.code()},
                              allow_redirects=False)
    assert right.status == 303
    again = await client.post("/admin/enrol", data={"csrf_token": token, "ticket": ticket,
                                                    "code": account.code(offset=30)}, allow_redirects=False)
    assert again.status == 401 and "otpauth://" not in await again.text()


async def test_enrol_attempts_count_against_the_address(client: TestClient, sessions: Sessions) -> None:
    account = await make_account(sessions, "organiser", enrolled=False)
    await inside_one_window(900)  # the address's attempts count by quarter hour
    token, ticket = await first_sign_in(client, account.email)  # one attempt from this address
    statuses = [(await client.post("/admin/enrol", data={"csrf_token": token, "ticket": ticket, "code": "000000"})
                 ).status for _ in range(19)]
    assert set(statuses) == {401}
    page = await client.post("/admin/enrol", data={"csrf_token": token, "ticket": ticket, "code": "000000"})
    assert page.status == 429
    api = await client.post("/api/v1/admin/token/enrol", json={"enrol_ticket": ticket, "code": account.code()})
    assert api.status == 429
