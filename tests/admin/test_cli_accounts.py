"""`gateway admin create` as an operator runs it: the account, its role, and its TOTP shown once."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pyotp
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.models import AdminUser, ContestOrganiser
from tests.admin.accounts import PASSWORD
from tests.commands import command_env, gateway
from tests.factories import make_contest


async def test_admin_create_prints_the_totp_uri_and_a_qr_code(client: TestClient, sessions: Sessions,
                                                              settings: Settings) -> None:
    env = command_env(settings, GATEWAY_ADMIN_PASSWORD=PASSWORD)
    run = gateway("admin", "create", "--email", "org@example.com", "--role", "organiser", env=env)
    assert run.returncode == 0, run.stderr
    uri = next(line for line in run.stdout.splitlines() if line.startswith("otpauth://totp/"))
    assert "issuer=Ballot" in uri and ("█" in run.stdout or "▀" in run.stdout)  # the QR code, drawn in blocks
    bad_role = gateway("admin", "create", "--email", "x@example.com", "--role", "viewer", env=env)
    assert bad_role.returncode == 2 and "owner, organiser, auditor, support" in bad_role.stderr
    async with sessions() as session:
        user = await session.scalar(select(AdminUser))
    assert user is not None and user.role == "organiser" and user.totp_confirmed_at is None

    secret = parse_qs(urlparse(uri).query)["secret"][0]  # scanned from the terminal: the web asks for it once
    response = await client.post("/api/v1/admin/token", json={"email": "org@example.com", "password": PASSWORD,
                                                               "code": pyotp.TOTP(secret).now()})
    assert response.status == 202 and (await response.json())["totp_uri"] == uri


async def test_an_organiser_created_for_a_contest_runs_it(client: TestClient, sessions: Sessions,
                                                         settings: Settings) -> None:
    contest = await make_contest(sessions)
    env = command_env(settings, GATEWAY_ADMIN_PASSWORD=PASSWORD)
    typo = gateway("admin", "create", "--email", "ada@example.com", "--role", "organiser", "--contest",
                   "no-such-show", env=env)
    assert typo.returncode != 0 and "No contest no-such-show" in typo.stderr
    run = gateway("admin", "create", "--email", "ada@example.com", "--role", "organiser", "--contest", contest.slug,
                  env=env)
    assert run.returncode == 0 and f"running {contest.slug}" in run.stdout, run.stderr
    async with sessions() as session:
        ada = await session.scalar(select(AdminUser).where(AdminUser.email == "ada@example.com"))
        runs = list(await session.scalars(select(ContestOrganiser.contest_id)))
    assert ada is not None and runs == [contest.id]
