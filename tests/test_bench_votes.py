"""`python -m bench.votes --provider`: votes paid with each provider, by payers its own network serves."""

from __future__ import annotations

import itertools

import pytest

from assembly.provider_list import PROVIDERS as PROVIDER_PARTS
from bench.vote_providers import PROVIDERS, next_payer
from bench.votes import parse_args
from gateway.kit.provider_parts import phone_wallets


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_each_provider_pays_with_numbers_of_its_own_network_that_its_sandbox_approves(provider: str) -> None:
    """A payer the phone channels would send to another wallet, or a sandbox's failing ending, would measure a
    different path (or refusals) rather than this provider's confirmed votes."""
    paid_by = PROVIDERS[provider]
    numbers = itertools.count(1440)
    payers = [paid_by.vote(next_payer(numbers))["msisdn"] for _ in range(40)]
    wallets = phone_wallets(PROVIDER_PARTS)
    assert {wallets.wallet_of(str(payer)) for payer in payers} == {provider}
    assert not any(str(payer)[-3:].startswith("45") for payer in payers)


def test_a_run_paid_otherwise_than_by_mtn_keeps_the_mtn_figures_and_says_what_capped_it() -> None:
    assert parse_args([]).section == "votes"
    assert parse_args(["--provider", "mpesa"]).section == "votes-mpesa"
    assert parse_args(["--provider", "airtel", "--cap", "1000"]).section == "votes-airtel-raised-cap"
    assert "raised for the sandbox" in PROVIDERS["mpesa"].cap_figure(1000.0)
    assert "at most ~4.5 votes/s" in PROVIDERS["mpesa"].cap_figure(None)
    with pytest.raises(SystemExit):
        parse_args(["--provider", "mtn", "--cap", "100"])  # MTN's prompts have no cap of ours to raise
    with pytest.raises(SystemExit):
        parse_args(["--provider", "orange"])


def test_airtel_is_set_up_as_a_deployment_is_so_that_its_callbacks_count_at_once() -> None:
    settings = PROVIDERS["airtel"].environment("http://127.0.0.1:9", 1000.0)
    assert settings["AIRTEL_MONEY_BASE_URL"] == "http://127.0.0.1:9/airtel"
    assert settings["AIRTEL_MONEY_CALLBACK_KEY"]
    assert settings["AIRTEL_MONEY_REQUESTS_PER_SECOND"] == "1000"
