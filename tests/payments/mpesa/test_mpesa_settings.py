"""What production refuses of M-Pesa's settings: a contest using it without its credentials, Daraja's sandbox, an
address that is not https, a consumer secret or passkey that could not be real, a site whose address holds a word
Daraja drops from the URLs it calls back."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from assembly.settings import ConfigError, Environment, Settings, check_production
from tests.factories import TEST_RESULTS_KEY

STRONG = "Zq8#mK2$vL9@pR4!xT7&nB3*wF6^hJ1%"
LIVE = {"mpesa_base_url": "https://api.safaricom.co.ke", "mpesa_consumer_key": "our-daraja-app",
        "mpesa_consumer_secret": SecretStr("Vn4kQ9sL2xR7tB1mW8pZ3cY6"), "mpesa_shortcode": "600999",
        "mpesa_passkey": SecretStr("bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919")}


def production(**changes: object) -> Settings:
    base = {"gateway_env": Environment.PRODUCTION, "secret_key": STRONG, "database_url": "postgresql://db/x",
            "redis_url": "redis://r/0", "public_base_url": "https://vote.example.org",
            "results_signing_key": TEST_RESULTS_KEY, "media_upload_url": "https://media.example.org",
            "media_files_url": "https://media.example.org"}
    return Settings(_env_file=None, **{**base, **changes})


def test_a_contest_using_mpesa_without_its_credentials_stops_production() -> None:
    with pytest.raises(ConfigError, match="provider 'mpesa' is enabled by a contest but MPESA_BASE_URL"):
        check_production(production(), {"mpesa"})
    check_production(production(), set())  # unused and unset: nothing to say
    check_production(production(**LIVE), {"mpesa"})  # set up for real: it starts


@pytest.mark.parametrize(("changes", "why"), [
    ({"mpesa_base_url": "https://sandbox.safaricom.co.ke"}, "Daraja's sandbox"),
    ({"mpesa_base_url": "http://127.0.0.1:8090/mpesa"}, "must be an https:// address"),
    ({"mpesa_passkey": SecretStr("x")}, "MPESA_PASSKEY"),
    ({"public_base_url": "https://vote.mpesa-gala.co.ke"}, "PUBLIC_BASE_URL names M-Pesa or Safaricom"),
    ({"public_base_url": "https://safaricom-awards.example.org"}, "PUBLIC_BASE_URL names M-Pesa or Safaricom")])
def test_production_refuses_a_sandbox_a_plain_address_or_a_passkey_that_could_not_be_real(
        changes: dict[str, object], why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        check_production(production(**{**LIVE, **changes}), {"mpesa"})
