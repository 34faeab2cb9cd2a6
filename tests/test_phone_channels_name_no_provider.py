"""The phone channels (channels/phone, sms, ussd) name no provider: a wallet's label, the words an SMS voter types to
name it and the numbers whose wallet it is are its provider's (`ProviderParts.label`, `.phone_wallet`), handed down
as `gateway.kit.phone_wallets.PhoneWallets`. So no string in their code spells a provider's name, label, words or
carriers (docstrings may, to explain; comments are no code)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from assembly.provider_list import PROVIDERS

CHANNELS = Path(__file__).resolve().parent.parent / "channels"
PHONE_CHANNELS = ("phone", "sms", "ussd")


def provider_words() -> set[str]:
    """Every provider's name and label, and its wallet's words and carriers."""
    words = {"momo", "safaricom", "vodacom"}  # what a wallet is also known by, declared or not
    for parts in PROVIDERS:
        words |= {parts.name, parts.label}
        if parts.phone_wallet is not None:
            words |= set(parts.phone_wallet.sms_words)
            words |= {carrier.word for carrier in parts.phone_wallet.carriers}
    return {word.lower() for word in words}


def spelling(words: set[str]) -> re.Pattern[str]:
    """Any of the words, whole, in any case, its parts joined by a dash, a space or nothing (`M-Pesa`, `M PESA`)."""
    forms = (r"[-\s]?".join(map(re.escape, re.split(r"[-\s]+", word))) for word in sorted(words, key=len, reverse=True))
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(forms) + r")(?![a-z0-9])", re.IGNORECASE)


def docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def literals(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of each string in the code, f-strings' parts included, docstrings left out."""
    tree = ast.parse(source)
    skipped = docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped:
            yield node.lineno, node.value


def named_providers(source: str, pattern: re.Pattern[str]) -> list[tuple[int, str]]:
    return [(line, text) for line, text in literals(source) if pattern.search(text)]


def test_the_check_finds_a_provider_spelled_in_code() -> None:
    pattern = spelling(provider_words())
    code = '"""Docstrings may say M-Pesa."""\n# so may comments: MTN\nWORDS = {"MOMO": "x", f"{1}m pesa": "y"}\n'
    assert [text for _, text in named_providers(code, pattern)] == ["MOMO", "m pesa"]
    assert named_providers('X = ("from", "common", "stars of the show", "Votes")\n', spelling({"om", "vote"})) == []


def test_no_phone_channel_spells_a_provider() -> None:
    pattern = spelling(provider_words())
    found = [f"channels/{path.relative_to(CHANNELS)}:{line}: {text!r}"
             for channel in PHONE_CHANNELS for path in sorted((CHANNELS / channel).rglob("*.py"))
             for line, text in named_providers(path.read_text(), pattern)]
    assert found == []
