"""Admins' TOTP secrets are kept sealed (ADMIN_TOTP_KEYS), never in clear: a base backup or an archived WAL segment
holds nothing that makes a second factor. Sign-ins open them; `gateway admin rotate-totp-key` seals them again with a
new key, after which the old one can go; the clear secrets of a release before are sealed at the next start; and
production without a key does not start."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from alembic import command
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import text

from admin.totp_keys import DEV_KEY_FILE, totp_keys
from assembly.channel_list import MIGRATIONS
from assembly.settings import ConfigError, Environment, Settings, check_production
from assembly.web.app import LentEngines, create_app
from assembly.web.keys import STARTS
from gateway.db.engine import Sessions
from gateway.db.migrate import alembic_config
from tests.admin.accounts import PASSWORD, Account, api_tokens, fresh_code, make_account, password_hash
from tests.commands import command_env, gateway
from tests.factories import TEST_TOTP_KEY

NEW_KEY = "ACMLeD3EI6dAgPmBtOtx-_CpK3399QKAnjjsHrCs6nU="  # a second Fernet key, the one rotated to
BEFORE_SEALING = "0035_fee_bands"


@asynccontextmanager
async def app_with_keys(settings: Settings, lent: LentEngines, keys: str | None) -> AsyncIterator[TestClient]:
    """The service's app as a process with ADMIN_TOTP_KEYS set to `keys` serves it."""
    app = create_app(settings.model_copy(update={"admin_totp_keys": SecretStr(keys) if keys else None}), lent=lent)
    async with TestClient(TestServer(app)) as client:
        yield client
        await app[STARTS].close(grace=0)


async def stored(sessions: Sessions, admin_id: int) -> tuple[str | None, str | None]:
    """The row's secret columns as PostgreSQL holds them (what a backup or the WAL carries)."""
    async with sessions() as session:
        clear, sealed = (await session.execute(text("SELECT totp_secret, totp_secret_sealed FROM admin_users "
                                                     "WHERE id = :id"), {"id": admin_id})).one()
    return clear, sealed


def gives_away(value: str, secret: str) -> bool:
    """Whether a stored value holds the secret: as given (base32, any case) or its raw bytes in any usual spelling."""
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    spellings = {secret.upper(), secret.lower(), raw.hex(), base64.b64encode(raw).decode().rstrip("="),
                 base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    return any(spelling in value for spelling in spellings) or raw in value.encode("latin-1")


async def signs_in(client: TestClient, account: Account) -> int:
    response = await client.post("/api/v1/admin/token", json={
        "email": account.email, "password": PASSWORD, "code": await fresh_code(client, account)})
    return response.status


async def test_the_database_holds_a_sealed_secret_and_a_sign_in_opens_it(client: TestClient,
                                                                        sessions: Sessions) -> None:
    account = await make_account(sessions, "owner")
    clear, sealed = await stored(sessions, account.id)
    assert clear is None and sealed is not None
    assert not gives_away(sealed, account.secret)
    assert Fernet(TEST_TOTP_KEY).decrypt(sealed.encode()).decode() == account.secret  # sealed with the setting's key
    assert (await api_tokens(client, account))["token_type"] == "Bearer"


async def test_after_rotating_to_a_new_key_the_old_one_can_go(client: TestClient, sessions: Sessions,
                                                              settings: Settings, lent_engines: LentEngines) -> None:
    owner, organiser = await make_account(sessions, "owner"), await make_account(sessions, "organiser")
    assert await signs_in(client, owner) == 200
    before = await stored(sessions, owner.id)

    rotated = await asyncio.to_thread(gateway, "admin", "rotate-totp-key",
                                      env=command_env(settings, ADMIN_TOTP_KEYS=f"{NEW_KEY},{TEST_TOTP_KEY}"))
    assert rotated.returncode == 0, rotated.stderr
    assert "2 admin accounts' TOTP secrets sealed with the newest key" in rotated.stdout
    clear, sealed = await stored(sessions, owner.id)
    assert clear is None and sealed is not None and sealed != before[1] and not gives_away(sealed, owner.secret)

    async with app_with_keys(settings, lent_engines, NEW_KEY) as new_only:  # the old key dropped
        assert await signs_in(new_only, owner) == 200
        assert await signs_in(new_only, organiser) == 200
    async with app_with_keys(settings, lent_engines, TEST_TOTP_KEY) as old_only:  # nothing is sealed with it now
        assert await signs_in(old_only, owner) == 401


async def test_rotating_without_the_key_that_sealed_a_secret_says_whose_and_keeps_it(
        sessions: Sessions, settings: Settings) -> None:
    account = await make_account(sessions, "owner")
    before = await stored(sessions, account.id)
    rotated = await asyncio.to_thread(gateway, "admin", "rotate-totp-key",
                                      env=command_env(settings, ADMIN_TOTP_KEYS=NEW_KEY))
    assert rotated.returncode == 1 and account.email in rotated.stderr and "ADMIN_TOTP_KEYS" in rotated.stderr
    assert await stored(sessions, account.id) == before


async def test_a_secret_a_release_before_kept_in_clear_is_sealed_at_the_next_start(
        sessions: Sessions, settings: Settings, lent_engines: LentEngines) -> None:
    config = alembic_config(settings.database_url or "", MIGRATIONS)
    await asyncio.to_thread(command.downgrade, config, BEFORE_SEALING)
    try:
        made = await make_clear_account(sessions)  # as the release before made accounts: the secret in clear
    finally:
        await asyncio.to_thread(command.upgrade, config, "heads")
        # Tables the downgrade dropped came back new: statements the pools prepared on them before would fail
        # ("cached statement plan is invalid") in whichever later test used them.
        for engine in (sessions.kw["bind"], lent_engines.requests, lent_engines.verification, lent_engines.board):
            await engine.dispose()
    assert await stored(sessions, made.id) == (made.secret, None)  # the migration cannot reach the key

    async with app_with_keys(settings, lent_engines, TEST_TOTP_KEY) as client:  # a web process starts
        clear, sealed = await stored(sessions, made.id)
        assert clear is None and sealed is not None and not gives_away(sealed, made.secret)
        assert await signs_in(client, made) == 200


async def make_clear_account(sessions: Sessions) -> Account:
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    async with sessions.begin() as session:
        admin_id = (await session.execute(text(
            "INSERT INTO admin_users (email, password_hash, totp_secret, role, totp_confirmed_at) "
            "VALUES ('old@example.com', :hash, :secret, 'owner', now()) RETURNING id"),
            {"hash": password_hash(PASSWORD), "secret": secret})).scalar_one()
    return Account(admin_id, "old@example.com", "owner", secret)


async def test_production_without_the_key_refuses_to_start_and_names_it(settings: Settings,
                                                                        lent_engines: LentEngines) -> None:
    production = settings.model_copy(update={
        "gateway_env": Environment.PRODUCTION, "secret_key": SecretStr("x4Vq9-LmT2rZ8bWn_K3sJ7dHf0Yc6GpE1uAoNiRt"),
        "public_base_url": "https://vote.example.org", "admin_totp_keys": None})
    with pytest.raises(ConfigError, match="ADMIN_TOTP_KEYS must be set"):
        check_production(production, set())
    with pytest.raises(ConfigError, match="ADMIN_TOTP_KEYS must be set"):
        create_app(production, lent=lent_engines)
    check_production(production.model_copy(update={"admin_totp_keys": SecretStr(TEST_TOTP_KEY)}), set())


@pytest.mark.parametrize(("keys", "why"), [
    ("not-a-key-but-long-enough-to-pass-for-one-0123", "ADMIN_TOTP_KEYS's key 1 is not a Fernet key"),
    (f"{NEW_KEY},{'A' * 43}=", "ADMIN_TOTP_KEYS's key 2 must be random"),
    (" , ", "ADMIN_TOTP_KEYS holds no key")])
def test_a_key_that_is_no_fernet_key_stops_start_up_and_is_never_quoted(settings: Settings, lent_engines: LentEngines,
                                                                          keys: str, why: str) -> None:
    for environment in Environment:
        with pytest.raises(ConfigError, match=why) as refused:
            create_app(settings.model_copy(update={"gateway_env": environment, "admin_totp_keys": SecretStr(keys)}),
                       lent=lent_engines)
        assert not any(key.strip() and key.strip() in str(refused.value) for key in keys.split(","))


def test_development_keeps_one_key_in_the_data_folder(settings: Settings, tmp_path: Path) -> None:
    """`make run` works with no key set, and what it sealed opens at its next start; set a key later, and the
    folder's still opens what it sealed until `gateway admin rotate-totp-key` seals it with the setting's."""
    dev = settings.model_copy(update={"admin_totp_keys": None, "gateway_data_dir": tmp_path})
    sealed = totp_keys(dev).seal("JBSWY3DPEHPK3PXP")
    assert (tmp_path / DEV_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert totp_keys(dev).open(sealed) == "JBSWY3DPEHPK3PXP"  # the next start
    later = dev.model_copy(update={"admin_totp_keys": SecretStr(NEW_KEY)})
    assert totp_keys(later).open(sealed) == "JBSWY3DPEHPK3PXP"
    assert Fernet(NEW_KEY).decrypt(totp_keys(later).reseal(sealed).encode()) == b"JBSWY3DPEHPK3PXP"
