"""`gateway ledger verify` and `gateway results sign|verify`, run as an operator or an auditor would."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from assembly.settings import Settings
from gateway.core.orders import counting
from gateway.core.results import signing
from gateway.db.engine import Sessions
from gateway.db.models import Contest
from tests.commands import command_env, gateway
from tests.factories import RULES_OFF, TEST_RESULTS_KEY, make_contest, place


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return command_env(settings, RESULTS_SIGNING_KEY=TEST_RESULTS_KEY)


async def contest_with_votes(sessions: Sessions) -> Contest:
    contest = await make_contest(sessions, slug="gala", fraud_rules=RULES_OFF)
    for i, (code, quantity) in enumerate((("01", 3), ("02", 5), ("01", 2))):
        order = await place(sessions, contest, code, quantity=quantity)
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, f"T{i}",
                                       provider=order.provider)
    return contest


async def test_ledger_verify_passes_a_whole_chain_and_names_the_first_broken_entry(sessions: Sessions,
                                                                                   env: dict[str, str]) -> None:
    contest = await contest_with_votes(sessions)
    clean = gateway("ledger", "verify", "--contest", "gala", env=env)
    assert clean.returncode == 0, clean.stderr
    assert "gala: ok, 3 entries" in clean.stdout
    async with sessions.begin() as session:
        await session.execute(text("UPDATE ledger_entries SET candidate_id = (SELECT id FROM candidates WHERE "
                                   "contest_id = :c AND code = '03') WHERE contest_id = :c AND seq = 2"),
                              {"c": contest.id})
    broken = gateway("ledger", "verify", env=env)
    assert broken.returncode == 1
    assert "gala: BROKEN" in broken.stdout and "first broken entry: 2" in broken.stdout
    unknown = gateway("ledger", "verify", "--contest", "nope", env=env)
    assert unknown.returncode == 2 and "nope" in unknown.stderr


async def test_a_signed_sheet_verifies_offline_and_a_changed_one_does_not(sessions: Sessions, env: dict[str, str],
                                                                          tmp_path: Path) -> None:
    await contest_with_votes(sessions)
    sheet = tmp_path / "gala.csv"
    signed = gateway("results", "sign", "--contest", "gala", "--out", str(sheet), env=env)
    assert signed.returncode == 0, signed.stderr
    lines = sheet.read_text().splitlines()
    assert "candidate,01,Candidate 01,5,500,XAF" in lines and "candidate,02,Candidate 02,5,500,XAF" in lines
    assert "total,,,10,1000,XAF" in lines and lines[-2].startswith("ledger,3,")
    signature = tmp_path / "gala.csv.sig"
    public = tmp_path / "key.pem"
    key = signing.private_key(TEST_RESULTS_KEY)
    public.write_text(signing.public_pem(key.public_key()))

    good = gateway("results", "verify", str(sheet), str(signature), "--key", str(public), env=env)
    assert good.returncode == 0 and "the signature is good" in good.stdout

    sheet.write_text(sheet.read_text().replace("candidate,02,Candidate 02,5,", "candidate,02,Candidate 02,50,"))
    changed = gateway("results", "verify", str(sheet), str(signature), "--key", str(public), env=env)
    assert changed.returncode == 1 and "BAD SIGNATURE" in changed.stdout


async def test_verifying_without_the_installation_s_key_asks_for_one_and_makes_none(
        sessions: Sessions, env: dict[str, str], tmp_path: Path) -> None:
    """Run from a folder other than the checkout, the command finds no key of this installation: it must not make
    one of its own and call a good sheet's signature bad."""
    await contest_with_votes(sessions)
    sheet = tmp_path / "gala.csv"
    assert gateway("results", "sign", "--contest", "gala", "--out", str(sheet), env=env).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    without_key = {**{k: v for k, v in env.items() if k != "RESULTS_SIGNING_KEY"}, "GATEWAY_DATA_DIR": str(elsewhere)}

    checked = gateway("results", "verify", str(sheet), f"{sheet}.sig", env=without_key)
    assert checked.returncode == 2 and "BAD SIGNATURE" not in checked.stdout
    assert "--key" in checked.stderr
    assert not elsewhere.exists()


def test_a_signature_checks_only_the_sheet_it_signed_and_only_with_its_key() -> None:
    key = signing.private_key(TEST_RESULTS_KEY)
    sheet = b"record,code,name,votes,amount,currency\ncandidate,01,A,3,300,XAF\n"
    signature = signing.sign(key, sheet)
    assert signing.signature_holds(key.public_key(), sheet, signature)
    assert not signing.signature_holds(key.public_key(), sheet.replace(b"3,300", b"4,300"), signature)
    assert not signing.signature_holds(Ed25519PrivateKey.generate().public_key(), sheet, signature)
    assert not signing.signature_holds(key.public_key(), sheet, b"not base64!")
    raw = base64.b64encode(signing.public_raw(key.public_key()))
    assert signing.signature_holds(signing.public_key(raw), sheet, signature)  # the key as base64 of 32 bytes


def test_a_sheet_never_adds_up_money_in_different_currencies() -> None:
    lines = [signing.SheetLine("01", "Awa", 7, {"XAF": 500, "XTR": 100}),
             signing.SheetLine("02", "Ben", 3, {"XAF": 300})]
    sheet = signing.sheet_csv("demo", "Demo", "XAF", lines, 4, b"\x01" * 32,
                              datetime(2026, 11, 23, 3, 0, tzinfo=UTC)).decode()
    rows = [row.split(",") for row in sheet.splitlines()]
    assert ["candidate", "01", "Awa", "7", "500", "XAF"] in rows and ["amount", "01", "", "", "100", "XTR"] in rows
    assert ["candidate", "02", "Ben", "3", "300", "XAF"] in rows
    assert ["total", "", "", "10", "800", "XAF"] in rows and ["total", "", "", "", "100", "XTR"] in rows
