"""Settings: production refuses unsafe defaults and names the setting at fault."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.app import create_app
from gateway.config import ConfigError, Environment, Settings, check_production
from gateway.keys import LEADERBOARD_CONFIG
from tests.factories import make_contest

STRONG = "k" * 48


def production(**changes: object) -> Settings:
    base = {"gateway_env": Environment.PRODUCTION, "secret_key": STRONG,
            "database_url": "postgresql://db/x", "redis_url": "redis://r/0"}
    return Settings(_env_file=None, **{**base, **changes})


@pytest.mark.parametrize("secret", ["", "dev-insecure-secret-key-change-me", "short"])
def test_production_refuses_a_missing_or_default_secret(secret: str) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        check_production(production(secret_key=secret), set())


def test_production_names_the_missing_provider_credentials() -> None:
    settings = production(mtn_momo_base_url="https://momo.example", mtn_momo_subscription_key="s")
    with pytest.raises(ConfigError) as caught:
        check_production(settings, {"mtn"})
    assert "MTN_MOMO_API_USER" in str(caught.value) and "MTN_MOMO_API_KEY" in str(caught.value)
    assert "SUBSCRIPTION_KEY" not in str(caught.value)


def test_production_with_everything_set_starts() -> None:
    settings = production(stripe_secret_key="sk_live_x", stripe_webhook_secret="whsec_x")
    check_production(settings, {"stripe"})


def test_development_allows_the_defaults() -> None:
    check_production(Settings(_env_file=None), {"mtn", "orange", "stripe"})


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_PORT", "9091")
    monkeypatch.setenv("GATEWAY_ENV", "production")
    settings = Settings(_env_file=None)
    assert settings.gateway_port == 9091 and settings.is_production


@pytest.mark.parametrize(("contest", "setting"), [
    ({"providers": ["orange"]}, "ORANGE_MONEY_CLIENT_ID"),  # a provider a contest uses, without credentials
    ({"ussd_service_codes": ["*384*777#"]}, "USSD_CALLBACK_TOKEN"),  # USSD votes anyone could place
])
async def test_production_app_refuses_to_start_for_what_its_contests_need_and_names_the_setting(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], contest: dict[str, list[str]], setting: str
) -> None:
    await make_contest(sessions, **contest)
    prod = settings.model_copy(update={"gateway_env": Environment.PRODUCTION, "secret_key": STRONG,
                                       "ussd_callback_token": None})
    server = TestServer(create_app(prod))
    try:
        with pytest.raises(ConfigError, match=setting):
            await server.start_server()
    finally:
        await server.close()


def test_stream_limits_come_from_the_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMS_PER_IP", "7")
    monkeypatch.setenv("STREAM_HEARTBEAT_SECONDS", "5")
    configured = Settings(_env_file=None, database_url=settings.database_url, redis_url=settings.redis_url)
    stream = create_app(configured)[LEADERBOARD_CONFIG]
    assert (stream.streams_per_ip, stream.heartbeat_seconds) == (7, 5.0)


def test_production_refuses_open_ussd_routes_when_a_contest_takes_ussd_votes() -> None:
    settings = production(ussd_callback_token=None)
    with pytest.raises(ConfigError, match="USSD_CALLBACK_TOKEN"):
        check_production(settings, set(), ussd_in_use=True)
    check_production(settings, set(), ussd_in_use=False)
    check_production(production(ussd_callback_token="k" * 32), set(), ussd_in_use=True)
