"""The contest form's Telegram, fraud-rule and board-visibility fields, on the pages and the JSON API:
each checked, each change audited with its before and after."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from assembly.channel_list import CONTEST_SETTINGS
from channels.sms.contest_settings import keywords_collide
from gateway.core.contests.contest_drafts import BoardVisibility, parse_contest
from gateway.core.errors import DomainError
from gateway.core.fraud.rules import FraudRules
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Contest
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, contest_fields, make_account
from tests.factories import channel_settings
from tests.provider_registry import registry_of


async def stored(sessions: Sessions, contest_id: int) -> Contest:
    async with sessions() as session:
        contest = await session.get(Contest, contest_id)
        assert contest is not None
        return contest


PROVIDER_NAMES = registry_of().names()


def refusal(fields: dict[str, Any]) -> str:
    try:
        parse_contest(contest_fields(**fields), CONTEST_SETTINGS, providers=PROVIDER_NAMES)
    except DomainError as exc:
        return f"{exc.field}: {exc.message}"
    raise AssertionError("accepted")


def test_each_new_field_is_checked_without_io() -> None:
    assert refusal({"stars_per_vote": 0}).startswith("stars_per_vote")
    assert refusal({"stars_per_vote": "ten"}) == "stars_per_vote: stars_per_vote must be a whole number, in digits 0-9."
    assert refusal({"fraud_rules": {"payer_votes_per_day": -1}}).startswith("payer_votes_per_day")
    assert refusal({"fraud_rules": {"no_such_rule": 3}}) == "fraud_rules: No fraud rule is called no_such_rule."
    assert refusal({"fraud_quick_payments": "many"}) == (
        "quick_payments: quick_payments must be a whole number, in digits 0-9.")
    assert refusal({"board": "secret"}).startswith("board")
    assert refusal({"telegram_mobile_money": "perhaps"}).startswith("telegram_mobile_money")
    draft = parse_contest(contest_fields(fraud_quick_payments="0", fraud_rules={"payer_votes_per_day": 10},
                                         board="frozen", board_frozen_at="2027-01-01T20:00"), providers=PROVIDER_NAMES)
    assert draft.fraud_rules == FraudRules(quick_payments=0, payer_votes_per_day=10)
    assert draft.board is BoardVisibility.FROZEN and draft.board_frozen_at is not None
    assert draft.board_frozen_at.isoformat() == "2027-01-01T20:00:00+01:00"  # on the contest's clock (Douala)


def test_sms_keywords_one_text_could_mean_both_collide() -> None:
    # STAR's voter texting `STARS07` (the verb's plural, as people type VOTES07) would vote for STARS's 07.
    for first, second in (("STAR", "STAR5"), ("STAR", "STARS5"), ("STARS", "STAR"), ("VOTE", "VOTER07")):
        assert keywords_collide(first, second) and keywords_collide(second, first), (first, second)
    for first, second in (("STAR", "STAR"), ("STAR", "MISS"), ("STAR", "STARDUST"), ("STAR5", "STAR6")):
        assert not keywords_collide(first, second), (first, second)


async def test_the_api_sets_stars_telegram_mobile_money_fraud_rules_and_a_sealed_board(
        client: TestClient, sessions: Sessions) -> None:
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    made = await client.post("/api/v1/admin/contests", json=contest_fields(), headers=owner)
    assert made.status == 201
    created = await made.json()
    assert created["stars_per_vote"] is None and created["telegram_mobile_money"] is False
    assert created["fraud_rules"] == FraudRules().stored() and created["board"] == "live"

    changed = contest_fields(stars_per_vote=25, telegram_mobile_money=True,
                             board="sealed", fraud_rules={"payer_orders_per_10_minutes": 0, "quick_payments": 3})
    response = await client.put(f"/api/v1/admin/contests/{created['id']}", json=changed, headers=owner)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["stars_per_vote"] == 25 and body["telegram_mobile_money"] is True and body["board"] == "sealed"
    contest = await stored(sessions, created["id"])
    assert contest.board_sealed and contest.show_counts and contest.board_frozen_at is None
    assert FraudRules.of(contest.fraud_rules) == FraudRules(payer_orders_per_10_minutes=0, quick_payments=3)
    async with sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "contest.update"))
    assert entry is not None and entry.before is not None and entry.after is not None
    assert (entry.before["board"], entry.after["board"]) == ("live", "sealed")
    assert (entry.before["stars_per_vote"], entry.after["stars_per_vote"]) == (None, 25)
    assert entry.after["fraud_rules"]["payer_orders_per_10_minutes"] == 0

    bad = await client.put(f"/api/v1/admin/contests/{created['id']}", headers=owner,
                           json={**changed, "fraud_rules": {"quick_payment_seconds": "soon"}, "board": "live"})
    assert bad.status == 400 and (await bad.json())["error"]["field"] == "quick_payment_seconds"
    assert (await stored(sessions, created["id"])).board_sealed  # nothing changed
    document = await (await client.get("/api/v1/admin/openapi.json")).json()
    schema = document["components"]["schemas"]["ContestFields"]["properties"]
    assert {"stars_per_vote", "telegram_mobile_money", "fraud_rules", "board_frozen_at"} <= set(schema)
    assert schema["board"]["enum"] == ["live", "hidden_counts", "frozen", "sealed"]


async def test_the_edit_page_shows_and_saves_every_setting(client: TestClient, sessions: Sessions) -> None:
    token = await browser_sign_in(client, await make_account(sessions, "organiser"))
    fields = {k: (v if not isinstance(v, list) else v[0]) for k, v in contest_fields().items()}
    made = await client.post("/admin/contests/new", data={**fields, "csrf_token": token}, allow_redirects=False)
    assert made.status == 303, await made.text()
    edit = made.headers["Location"] + "/edit"
    page = await (await client.get(edit)).text()
    for name in ("stars_per_vote", "telegram_mobile_money", "board_frozen_at", *(
            f"fraud_{rule}" for rule in FraudRules.names())):
        assert f'name="{name}"' in page, name
    assert "Sealed until close" in page
    posted = {**fields, "csrf_token": token, "board": "frozen", "board_frozen_at": "2027-02-01T21:30",
              "telegram_mobile_money": "on", "fraud_numbers_per_address_per_day": "0"}
    saved = await client.post(edit, data=posted, allow_redirects=False)
    assert saved.status == 303, await saved.text()
    contest = await stored(sessions, int(edit.split("/")[3]))
    assert (await channel_settings(sessions, contest.id))["telegram_mobile_money"]
    assert contest.board_frozen_at is not None
    assert contest.board_frozen_at.isoformat() == "2027-02-01T20:30:00+00:00"  # 21:30 in Douala
    assert FraudRules.of(contest.fraud_rules).numbers_per_address_per_day == 0
    refused = await client.post(edit, data={**posted, "fraud_payer_votes_per_day": "-3"}, allow_redirects=False)
    assert refused.status == 400 and "payer_votes_per_day must be between 0 and 1000000" in await refused.text()
    assert FraudRules.of((await stored(sessions, contest.id)).fraud_rules).payer_votes_per_day == 5000
