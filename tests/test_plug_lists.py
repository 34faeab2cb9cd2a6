"""The plugs' lists and their import contracts say the same: every provider of `assembly/provider_list.py` is a folder
on the providers' contract's first line (`pyproject.toml`), and every folder there is a provider, but the local
sandbox's stand-in servers (`payments/sandbox/`: the fakes of MTN, Orange, Airtel and M-Pesa that development talks
to, no provider of its own, on that line so that it imports no provider and none imports it); every channel of
`assembly/channel_list.py` is a folder on the channels' contract's first line, and every folder there a channel. Both
contracts are exhaustive, so a module of either package not placed on them fails `lint-imports`."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path
from typing import Any

from assembly.channel_list import CHANNELS
from assembly.provider_list import PROVIDERS

ROOT = Path(__file__).resolve().parent.parent
STAND_INS = {"sandbox"}  # on the providers' first line, no provider


def contract(container: str) -> dict[str, Any]:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    found = [c for c in contracts if c.get("containers") == [container]]
    assert len(found) == 1, f"one contract over {container}, found {len(found)}"
    return found[0]


def first_line(container: str) -> set[str]:
    """The folders of the contract's first line, which import none of each other (`a | b`)."""
    return {name.strip() for name in contract(container)["layers"][0].split("|")}


def test_the_providers_contract_is_exhaustive_and_its_first_line_is_the_provider_list() -> None:
    assert contract("payments").get("exhaustive") is True
    assert contract("payments").get("type") == "layers"
    names = [parts.name for parts in PROVIDERS]
    assert first_line("payments") - STAND_INS == set(names)
    assert STAND_INS <= first_line("payments")


def test_each_provider_is_built_in_its_own_folder() -> None:
    """`payments/<name>/provider.py` holds the parts the list names (`ProviderParts.name` is its folder's)."""
    for parts in PROVIDERS:
        module = importlib.import_module(f"payments.{parts.name}.provider")
        assert any(value is parts for value in vars(module).values()), parts.name
    for stand_in in STAND_INS:
        assert (ROOT / "payments" / stand_in).is_dir()
        assert not (ROOT / "payments" / stand_in / "provider.py").exists()  # a provider would be on the list


def test_the_channels_contract_is_exhaustive_and_its_first_line_is_the_channel_list() -> None:
    assert contract("channels").get("exhaustive") is True
    assert contract("channels").get("type") == "layers"
    assert first_line("channels") == {parts.name for parts in CHANNELS}


def test_each_channel_is_built_in_its_own_folder() -> None:
    """`channels/<name>/channel.py` holds the parts the list names."""
    for parts in CHANNELS:
        module = importlib.import_module(f"channels.{parts.name}.channel")
        assert any(value is parts for value in vars(module).values()), parts.name
