"""`gateway results verify` checks a sheet with a jury's parts as it checks one of the public alone: offline, from its
bytes and its signature; a changed blend is caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from assembly.settings import Settings
from gateway.core.audit import Actor
from gateway.core.contests import jury
from gateway.core.results import signing
from gateway.db.engine import Sessions
from tests.admin.accounts import make_account
from tests.commands import command_env, gateway
from tests.factories import TEST_RESULTS_KEY
from tests.leaderboard.helpers import set_contest
from tests.test_ledger_cli import contest_with_votes

OWNER = Actor(None, "owner@example.com", "owner")


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return command_env(settings, RESULTS_SIGNING_KEY=TEST_RESULTS_KEY)


async def test_a_sheet_with_the_jurys_parts_verifies_offline_and_a_changed_score_does_not(
        sessions: Sessions, env: dict[str, str], tmp_path: Path) -> None:
    contest = await contest_with_votes(sessions)  # "gala": 01 has 5 votes, 02 has 5
    await set_contest(sessions, contest, public_weight_pct=60)
    account = await make_account(sessions, "jury")
    await jury.seat_juror(sessions, OWNER, contest.id, account.email)
    await jury.score(sessions, Actor(account.id, account.email, "jury"), contest.id, {"01": 2, "02": 6})
    await jury.reveal(sessions, OWNER, contest.id, confirmed=True)

    sheet = tmp_path / "gala.csv"
    assert gateway("results", "sign", "--contest", "gala", "--out", str(sheet), env=env).returncode == 0
    lines = sheet.read_text().splitlines()
    # 02: 60% of 50% + 40% of 75% = 60%; 01: 30% + 10% = 40%.
    assert "formula,,60% public share of votes + 40% jury share of points,60,40," in lines
    assert "blend,02,1,50.00,75.00,60.00" in lines and "blend,01,2,50.00,25.00,40.00" in lines
    public = tmp_path / "key.pem"
    public.write_text(signing.public_pem(signing.private_key(TEST_RESULTS_KEY).public_key()))
    signature = tmp_path / "gala.csv.sig"

    good = gateway("results", "verify", str(sheet), str(signature), "--key", str(public), env=env)
    assert good.returncode == 0 and "the signature is good" in good.stdout
    sheet.write_text(sheet.read_text().replace("blend,01,2,50.00,25.00,40.00", "blend,01,1,50.00,25.00,60.00"))
    changed = gateway("results", "verify", str(sheet), str(signature), "--key", str(public), env=env)
    assert changed.returncode == 1 and "BAD SIGNATURE" in changed.stdout
