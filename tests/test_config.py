"""Settings: production refuses unsafe defaults and names the setting at fault."""

from __future__ import annotations

import re
import secrets
import socket
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from assembly.provider_list import provider
from assembly.resources.providers import build_providers
from assembly.resources.results_key import signing_key
from assembly.settings import DEV_SECRET_KEY, ConfigError, Environment, Settings, check_production, secret_problem
from assembly.web.app import create_app
from channels.ussd.channel import production_problems as ussd_problems
from gateway.core.results import signing
from gateway.db.engine import Sessions
from gateway.kit.outbound_tls import verified_tls
from leaderboard.keys import LEADERBOARD_CONFIG
from tests.factories import TEST_RESULTS_KEY, make_contest
from tests.servers import CLOSED, local_defaults

STRONG = "x4Vq9-LmT2rZ8bWn_K3sJ7dHf0Yc6GpE1uAoNiRt"  # what `secrets.token_urlsafe(30)` gives


def check_with_ussd(settings: Settings, *, in_use: bool) -> None:
    """Start-up's check when a contest does (or does not) take USSD votes."""
    check_production(settings, set(), ussd_problems(settings, in_use=in_use))


def production(**changes: object) -> Settings:
    base = {"gateway_env": Environment.PRODUCTION, "secret_key": STRONG,
            "database_url": "postgresql://db/x", "redis_url": "redis://r/0",
            "public_base_url": "https://vote.example.org", "results_signing_key": TEST_RESULTS_KEY,
            "media_upload_url": "https://media.example.org", "media_files_url": "https://media.example.org"}
    return Settings(_env_file=None, **{**base, **changes})


@pytest.mark.parametrize("name", ["TELEGRAM_WEBHOOK_SECRET", "ORANGE_MONEY_PUSH_PASSWORD",
                                  "METRICS_TOKEN"])
def test_production_refuses_any_fake_secret_that_is_set(name: str) -> None:
    with pytest.raises(ConfigError, match=f"{name} must not contain whitespace"):
        check_production(production(**{name.lower(): " " * 40}), set())
    check_production(production(**{name.lower(): STRONG}), set())  # a real one starts


def test_production_refuses_a_public_address_that_is_not_https() -> None:
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL must be an https:// address"):
        check_production(production(public_base_url="http://vote.example.org"), set())


@pytest.mark.parametrize(("secret", "why"), [
    ("", "must be set"), (DEV_SECRET_KEY, "development default"), ("short", "at least 32 characters"),
    (" " * 40, "whitespace"), ("a" * 32, "different characters"), ("ab" * 24, "different characters"),
    (STRONG[:20] + "\t" + STRONG[20:], "whitespace"), (STRONG + " ", "whitespace"),
])
def test_production_refuses_a_missing_default_or_fake_secret_and_says_why(secret: str, why: str) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY") as caught:
        check_production(production(secret_key=secret), set())
    assert why in str(caught.value)


def test_a_real_random_secret_is_accepted() -> None:
    for _ in range(20):
        check_production(production(secret_key=secrets.token_urlsafe(32)), set())
        check_with_ussd(production(ussd_callback_token=secrets.token_hex(16)), in_use=True)
    assert secret_problem("METRICS_TOKEN", secrets.token_urlsafe(24), 24) is None  # the rule other settings use
    assert "METRICS_TOKEN" in (secret_problem("METRICS_TOKEN", "x" * 24, 24) or "")


def test_production_names_the_missing_provider_credentials() -> None:
    settings = production(mtn_momo_base_url="https://momo.example",
                          mtn_momo_subscription_key="3f9c2a7e41b84d06a5e8c1f27b9d4e63")
    with pytest.raises(ConfigError) as caught:
        check_production(settings, {"mtn"})
    assert "MTN_MOMO_API_USER" in str(caught.value) and "MTN_MOMO_API_KEY" in str(caught.value)
    assert "SUBSCRIPTION_KEY" not in str(caught.value)


def test_production_refuses_candidates_uploads_and_clips_over_plain_http() -> None:
    with pytest.raises(ConfigError, match="MEDIA_UPLOAD_URL must be an https://") as caught:
        check_production(production(media_upload_url="http://127.0.0.1:8093"), set())
    assert "MEDIA_FILES_URL" not in str(caught.value)


def test_production_with_everything_set_starts() -> None:
    settings = production(stripe_secret_key="sk_live_51Nq8vXKq2Rz7TbW4mPj9LcH0dFs3Ga6Ye",
                          stripe_webhook_secret="whsec_8Hq2nVz4Kx7Lm1Rt5Bw9Cj3Pd6Fg0Ys")
    check_production(settings, {"stripe"})


@pytest.mark.parametrize(("setting", "value"), [
    ("STRIPE_WEBHOOK_SECRET", " " * 40), ("STRIPE_SECRET_KEY", "sk_live_x"), ("STRIPE_WEBHOOK_SECRET", "w" * 38),
])
def test_production_refuses_a_fake_provider_secret_of_a_provider_in_use(setting: str, value: str) -> None:
    real = {"stripe_secret_key": "sk_live_51Nq8vXKq2Rz7TbW4mPj9LcH0dFs3Ga6Ye",
            "stripe_webhook_secret": "whsec_8Hq2nVz4Kx7Lm1Rt5Bw9Cj3Pd6Fg0Ys"}
    settings = production(**{**real, setting.lower(): value})
    with pytest.raises(ConfigError, match=setting):
        check_production(settings, {"stripe"})
    check_production(settings, set())  # a provider no contest uses is not held against start-up


# Every secret setting but SECRET_KEY and USSD_CALLBACK_TOKEN (still read as plain text by the channels).
SECRET_SETTINGS = ("METRICS_TOKEN", "MTN_MOMO_SUBSCRIPTION_KEY", "MTN_MOMO_API_KEY", "ORANGE_MONEY_CLIENT_SECRET",
                   "ORANGE_MONEY_MERCHANT_KEY", "ORANGE_MONEY_PUSH_CONSUMER_SECRET", "ORANGE_MONEY_PUSH_PASSWORD",
                   "ORANGE_MONEY_PIN", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "AT_API_KEY",
                   "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET")


def test_secret_settings_never_show_when_the_settings_are_printed_or_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {name: f"{name.lower()}-{secrets.token_hex(12)}" for name in SECRET_SETTINGS}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = production(mtn_momo_base_url="https://momo.example", mtn_momo_api_user="user",
                          orange_money_base_url="https://orange.example", orange_money_client_id="client", **LIVE)
    shown = " ".join((repr(settings), str(settings), settings.model_dump_json(), f"{settings.model_dump()}"))
    assert [name for name, value in values.items() if value in shown] == []
    check_production(settings, {"mtn", "orange", "stripe"})  # real-looking secrets still pass the checks


# Values a provider could have issued, for every setting production needs of one.
ISSUED = {"MTN_MOMO_BASE_URL": "https://momo.example", "MTN_MOMO_SUBSCRIPTION_KEY": "3f9c2a7e41b84d06a5e8c1f27b9d4e63",
          "MTN_MOMO_API_USER": "user", "MTN_MOMO_API_KEY": "8d1e6b3c90f74a25b7c4e2d19a6f0b58",
          "ORANGE_MONEY_BASE_URL": "https://orange.example", "ORANGE_MONEY_CLIENT_ID": "client",
          "ORANGE_MONEY_CLIENT_SECRET": "Zx81Lq4mNv27Rt9K", "ORANGE_MONEY_MERCHANT_KEY": "merchant",
          "STRIPE_SECRET_KEY": "sk_live_51Nq8vXKq2Rz7TbW4mPj9LcH0dFs3Ga6Ye",
          "STRIPE_WEBHOOK_SECRET": "whsec_8Hq2nVz4Kx7Lm1Rt5Bw9Cj3Pd6Fg0Ys"}
KEYS = ("mtn", "orange", "stripe")
# What names a provider's live system rather than its sandbox (their defaults are the sandboxes').
LIVE = {"mtn_momo_target_environment": "mtncameroon", "orange_money_country": "cm"}


@pytest.mark.parametrize("unset", ["", *ISSUED])
async def test_a_provider_is_offered_exactly_when_production_has_all_it_needs(unset: str) -> None:
    """The registry and the production check read one definition of what each provider needs."""
    settings = production(sandbox_enabled=False, **LIVE, **{name.lower(): value for name, value in ISSUED.items()
                                                            if name != unset})
    async with httpx.AsyncClient(verify=verified_tls()) as http:
        registry = build_providers(settings, http)
        offered = {name for name in KEYS if registry.offers(name)}
        await registry.aclose()
    refused = {name for name in KEYS if provider(name).missing_settings(settings)}
    assert offered == set(KEYS) - refused and len(refused) == (1 if unset else 0)
    if unset:
        with pytest.raises(ConfigError, match=unset):
            check_production(settings, refused)
    check_production(settings, set(KEYS) - refused)


PUSH = {"orange_money_push_base_url": "https://api-s1.orange.cm", "orange_money_push_consumer_key": "consumer",
        "orange_money_push_consumer_secret": "Qm7Lx2Vr9Kp4Zt8N", "orange_money_push_username": "merchant",
        "orange_money_push_password": "Hn3Wq8Rz5Tb1Yc6M", "orange_money_channel_msisdn": "699000001",
        "orange_money_pin": "2468"}


def issued(*providers: str) -> dict[str, str]:
    """The credentials a provider could have issued, for the providers named."""
    prefixes = tuple(f"{provider.upper()}_" for provider in providers)
    return {name.lower(): value for name, value in ISSUED.items() if name.startswith(prefixes)}


@pytest.mark.parametrize(("changes", "setting"), [
    ({**issued("mtn")}, "MTN_MOMO_TARGET_ENVIRONMENT is 'sandbox'"),  # the default
    ({**issued("mtn"), "mtn_momo_target_environment": " Sandbox "}, "MTN_MOMO_TARGET_ENVIRONMENT is 'sandbox'"),
    ({**issued("mtn"), **LIVE, "mtn_momo_base_url": "https://sandbox.momodeveloper.mtn.com"},
     "MTN_MOMO_BASE_URL is MTN's sandbox"),
    ({**issued("mtn"), **LIVE, "mtn_momo_base_url": "http://127.0.0.1:8090/mtn"}, "MTN_MOMO_BASE_URL must be an https"),
    ({**issued("orange")}, "ORANGE_MONEY_COUNTRY is 'dev'"),  # the default
    ({**issued("orange"), **LIVE, "orange_money_token_url": "http://127.0.0.1:8090/orange/oauth/v3/token"},
     "ORANGE_MONEY_TOKEN_URL must be an https"),
    ({**PUSH, "orange_money_push_base_url": "http://127.0.0.1:8090/orange"}, "ORANGE_MONEY_PUSH_BASE_URL must be"),
    ({**issued("stripe"), "stripe_secret_key": "sk_test_51Nq8vXKq2Rz7TbW4mPj9LcH0dFs3Ga6Ye"},
     "STRIPE_SECRET_KEY is a test-mode key"),
    ({**issued("stripe"), "stripe_secret_key": "rk_test_51Nq8vXKq2Rz7TbW4mPj9LcH0dFs3Ga6Ye"},
     "STRIPE_SECRET_KEY is a test-mode key"),
    ({**issued("stripe"), "stripe_api_base": "http://127.0.0.1:12111"}, "STRIPE_API_BASE must be an https"),
])
def test_production_refuses_a_provider_pointed_at_its_sandbox_and_names_the_setting(
        changes: dict[str, str], setting: str) -> None:
    """A sandbox approves payments nobody made: a show pointed at one counts votes for no money, and no real voter
    is prompted. A provider production offers (all its credentials set) is refused so, before any contest uses it."""
    with pytest.raises(ConfigError, match=re.escape(setting)):
        check_production(production(**changes), set())


def test_production_starts_with_every_provider_live_and_ignores_a_sandbox_nobody_uses() -> None:
    check_production(production(**issued("mtn", "orange", "stripe"), **PUSH, **LIVE,
                                stripe_api_base="https://api.stripe.com"), {"mtn", "orange", "stripe"})
    # MTN not set up and no contest using it: its default environment sends nothing anywhere.
    check_production(production(**issued("stripe")), {"stripe"})
    # A contest using MTN with its credentials unset: both the missing ones and the sandbox are named.
    with pytest.raises(ConfigError, match="MTN_MOMO_API_KEY.*MTN_MOMO_TARGET_ENVIRONMENT is 'sandbox'"):
        check_production(production(mtn_momo_base_url="https://proxy.momoapi.mtn.com"), {"mtn"})


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
    settings: Settings, sessions: Sessions, contest: dict[str, list[str]], setting: str
) -> None:
    await make_contest(sessions, **contest)
    prod = settings.model_copy(update={"gateway_env": Environment.PRODUCTION, "secret_key": SecretStr(STRONG),
                                       "public_base_url": "https://vote.example.org", "ussd_callback_token": None})
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
        check_with_ussd(settings, in_use=True)
    check_with_ussd(settings, in_use=False)
    check_with_ussd(production(ussd_callback_token="k7Qz2Lp9Wx4Rv8Tn3Bm6"), in_use=True)


@pytest.mark.parametrize("token", [" " * 16, "k" * 32, "\t" + "k7Qz2Lp9Wx4Rv8Tn3Bm6"])
def test_a_fake_ussd_token_is_refused_at_start_up(token: str) -> None:
    with pytest.raises(ConfigError, match="USSD_CALLBACK_TOKEN"):
        check_with_ussd(production(ussd_callback_token=token), in_use=True)


async def test_the_ussd_route_refuses_a_token_of_spaces_as_start_up_does(
        settings: Settings, sessions: Sessions) -> None:
    """Start-up and the route share one rule: a contest given USSD codes after start-up is served by
    neither a token of 16 spaces nor anyone who sends those spaces."""
    token = " " * 16
    prod = settings.model_copy(update={"gateway_env": Environment.PRODUCTION, "secret_key": SecretStr(STRONG),
                                       "public_base_url": "https://vote.example.org",
                                       "ussd_callback_token": SecretStr(token)})
    async with TestClient(TestServer(create_app(prod))) as client:  # no USSD contest yet: it starts
        await make_contest(sessions, slug="late", ussd_service_codes=["*384*777#"])
        form = {"sessionId": "ATUid_1", "serviceCode": "*384*777#", "phoneNumber": "+237670000001",
                "networkCode": "62401", "text": ""}
        response = await client.post(f"/ussd/africastalking?token={quote(token)}", data=form)
        assert response.status == 403
        error = (await response.json())["error"]
        assert error["code"] == "unknown_caller" and "USSD_CALLBACK_TOKEN" in error["message"]


def test_our_own_secrets_never_show_in_a_settings_dump() -> None:
    """A crash report or a debug log of the settings must not hand out the keys behind CSRF, callbacks and USSD."""
    token = "k7Qz2Lp9Wx4Rv8Tn3Bm6"
    settings = production(ussd_callback_token=token)
    dump = repr(settings) + str(settings.model_dump())
    assert STRONG not in dump and token not in dump
    assert settings.secret_key.get_secret_value() == STRONG


@pytest.mark.parametrize("key", [None, "", "not-a-key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"])
def test_production_without_a_usable_results_signing_key_refuses_to_start(settings: Settings, key: str | None) -> None:
    """Results signed with no key, or a key nobody can read, would vouch for nothing."""
    with pytest.raises(ConfigError, match="RESULTS_SIGNING_KEY"):
        check_production(production(results_signing_key=key), set())
    prod = settings.model_copy(update={"gateway_env": Environment.PRODUCTION, "secret_key": SecretStr(STRONG),
                                       "public_base_url": "https://vote.example.org",
                                       "results_signing_key": SecretStr(key) if key is not None else None})
    with pytest.raises(ConfigError, match="RESULTS_SIGNING_KEY"):
        create_app(prod)
    check_production(production(), set())  # the same settings with a key: it starts


def test_development_keeps_one_results_key_in_the_data_folder(settings: Settings, tmp_path: Path) -> None:
    dev = settings.model_copy(update={"results_signing_key": None, "gateway_data_dir": tmp_path})
    first = signing_key(dev)
    assert (tmp_path / "results-signing-key.pem").stat().st_mode & 0o777 == 0o600
    assert signing.public_raw(signing_key(dev).public_key()) == signing.public_raw(first.public_key())


def test_the_fanout_url_must_be_an_http_url_and_is_read_as_a_folder() -> None:
    """The publisher appends each board's slug: without the slash, every frame would go to one wrong channel."""
    with pytest.raises(ValueError, match="BOARD_FANOUT_URL"):
        Settings(board_fanout_url="fanout:8096/board/")
    assert Settings(board_fanout_url="http://fanout:8096/board").board_fanout_url == "http://fanout:8096/board/"
    assert Settings().board_fanout_url == ""  # the embedded default: each web process streams to its viewers


def test_the_suites_settings_reach_no_service_at_its_default_address(settings: Settings) -> None:
    """`make run` may be running beside the suite, its services on their default ports: every setting whose
    default is a local service points, in the suite, at a port of its own where nothing listens (and each process
    a test starts inherits that), so a test that forgot to start a fake is refused, never answered by `make run`."""
    local = local_defaults(Settings)
    assert {"sandbox_url", "telegram_fake_api_url", "public_base_url", "media_upload_url", "gateway_port"} <= set(local)
    for name, default in local.items():
        for built in (settings, Settings(_env_file=None)):
            value = getattr(built, name)
            assert value != default, f"{name} is its default, {default}"
            assert str(value).startswith("https://") or str(CLOSED.port) in str(value), f"{name} is {value}"
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", CLOSED.port)) != 0  # refused: nothing listens there
