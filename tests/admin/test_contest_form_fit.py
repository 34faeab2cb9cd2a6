"""The contest form fits its market: a new contest's country brings its currency, its zone and the phone's wallets
that take that currency (as each provider declares); a provider that does not take the currency is refused by name;
providers and languages are shown by name; the fraud thresholds are folded away; every wrong field is shown at once,
beside itself, on the page and in the API's error body."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from gateway.db.engine import Sessions
from gateway.db.models import Contest
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, contest_fields, csrf_token, make_account


def checked(page: str) -> set[str]:
    return set(re.findall(r'name="providers" value="([a-z]+)"[^>]*\bchecked>', page))


def form_fields(token: str, **overrides: object) -> dict[str, object]:
    fields = {**contest_fields(opens_at="2026-12-01T20:00", closes_at="2026-12-08T21:00", ussd_service_codes=""),
              "csrf_token": token, **overrides}
    return {key: value for key, value in fields.items() if not isinstance(value, list)}


async def test_a_new_kenyan_contest_is_in_shillings_on_nairobi_s_clock_paid_by_the_wallets_that_take_them(
        client: TestClient, sessions: Sessions) -> None:
    await browser_sign_in(client, await make_account(sessions, "organiser"))
    kenyan = await (await client.get("/admin/contests/new", params={"lang": "en", "country": "KE"})).text()
    assert 'id="currency" name="currency" required value="KES"' in kenyan
    assert 'value="Africa/Nairobi"' in kenyan and '<option value="KE" selected>Kenya</option>' in kenyan
    assert checked(kenyan) == {"mpesa", "airtel"}  # neither MTN nor Orange takes shillings
    cameroonian = await (await client.get("/admin/contests/new", params={"lang": "en"})).text()
    assert 'id="currency" name="currency" required value="XAF"' in cameroonian
    assert 'value="Africa/Douala"' in cameroonian
    assert "mpesa" not in checked(cameroonian) and {"mtn", "orange"} <= checked(cameroonian)
    # The form's script is handed each provider's currencies and each country's currency and zones.
    assert 'value="mpesa" data-takes="KES"' in cameroonian
    assert '"KE":["KES",["Africa/Nairobi"]]' in cameroonian
    assert (await client.get("/admin/static/market.js")).status == 200


async def test_a_provider_that_does_not_take_the_currency_is_refused_by_name(client: TestClient,
                                                                            sessions: Sessions) -> None:
    token = await browser_sign_in(client, await make_account(sessions, "organiser"))
    fields = {**form_fields(token, slug="douala"), "providers": "mpesa"}
    refused = await client.post("/admin/contests/new", data=fields, params={"lang": "en"})
    page = await refused.text()
    assert refused.status == 400
    assert '<p class="error field-error" id="providers-error" role="alert">M-Pesa does not take XAF: it takes KES.' \
        in page
    french = await (await client.post("/admin/contests/new", data=fields, params={"lang": "fr"})).text()
    assert "M-Pesa ne prend pas les XAF : il prend KES." in french


async def test_providers_and_languages_are_named_and_the_fraud_thresholds_folded(client: TestClient,
                                                                                 sessions: Sessions) -> None:
    await browser_sign_in(client, await make_account(sessions, "organiser"))
    page = await (await client.get("/admin/contests/new", params={"lang": "fr"})).text()
    for name in ("MTN Mobile Money", "Orange Money", "M-Pesa", "Carte bancaire"):
        assert f"> {name}</label>" in page
    assert "> mtn</label>" not in page and "> mpesa</label>" not in page
    for code, name in (("fr", "Français"), ("en", "English"), ("sw", "Kiswahili")):
        assert f'<option value="{code}" lang="{code}" ' in page and f">{name}</option>" in page
    assert '<details id="fraud-rules">' in page  # closed


async def test_every_wrong_field_is_shown_at_once_beside_itself(client: TestClient, sessions: Sessions) -> None:
    token = await browser_sign_in(client, await make_account(sessions, "organiser"))
    fields = form_fields(token, slug="Not A Slug", max_votes_per_order="lots", closes_at="2026-11-30T20:00",
                         fraud_payer_votes_per_day="many", providers="mtn")
    page = await (await client.post("/admin/contests/new", data=fields, params={"lang": "en"})).text()
    for field in ("slug", "max_votes_per_order", "closes_at", "fraud_payer_votes_per_day"):
        assert f'id="{field}-error"' in page, field
    assert '<details id="fraud-rules" open>' in page  # a threshold is wrong: shown unfolded
    assert "Voting must close after it opens." in page


async def test_the_api_names_every_wrong_field_and_keeps_the_first_as_before(client: TestClient,
                                                                            sessions: Sessions) -> None:
    headers = bearer(await api_tokens(client, await make_account(sessions, "organiser")))
    body = contest_fields(slug="Not A Slug", currency="ZZZ", max_votes_per_order=0)
    answer = await client.post("/api/v1/admin/contests", json=body, headers=headers)
    assert answer.status == 400
    error = await answer.json()
    assert error["error"]["field"] == "slug" and error["error"]["code"] == "invalid_field"
    assert [each["field"] for each in error["errors"]] == ["slug", "currency", "max_votes_per_order"]


async def test_free_votes_and_the_late_votes_grace_are_set_on_the_form(client: TestClient,
                                                                       sessions: Sessions) -> None:
    await browser_sign_in(client, await make_account(sessions, "organiser"))
    blank = await (await client.get("/admin/contests/new", params={"lang": "en"})).text()
    assert 'name="late_grace_minutes" inputmode="numeric" size="4" value="5"' in blank  # the default, said
    token = csrf_token(blank)
    wrong = await client.post("/admin/contests/new", data=form_fields(
        token, late_grace_minutes="500", free_votes_per_day="1", free_votes_per="week", providers="mtn"))
    page = await wrong.text()
    assert wrong.status == 400 and "late_grace_minutes must be between 0 and 60" in page
    made = await client.post("/admin/contests/new", allow_redirects=False, data=form_fields(
        token, late_grace_minutes="10", free_votes_per_day="1", free_votes_per="day", free_vote_weight="counted",
        providers="mtn"))
    assert made.status == 303, await made.text()
    async with sessions() as session:
        contest = (await session.scalars(select(Contest))).one()
    assert (contest.late_grace_seconds, contest.free_votes_per_day, contest.free_vote_weight) == (600, 1, "counted")
    edit = await (await client.get(f"/admin/contests/{contest.id}/edit", params={"lang": "en"})).text()
    assert 'value="10"' in edit and '<option value="counted" selected>' in edit
