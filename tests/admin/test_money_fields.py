"""An organiser types a price in major units of its currency and sees what voters will pay; a price one of the
contest's providers cannot charge is refused at the save, naming the provider and the nearest prices it can. The
JSON admin API keeps minor units."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from admin.money_fields import price_preview, typed_minor
from gateway.core.errors import DomainError
from gateway.db.engine import Sessions
from gateway.db.models import Contest
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, contest_fields, make_account

NBSP = "\u00a0"


def test_a_price_is_typed_in_major_units_and_francs_cfa_have_no_cents() -> None:
    assert typed_minor("10.50", "KES", "price_per_vote", "en") == 1050
    assert typed_minor("10,50", "KES", "price_per_vote", "fr") == 1050  # a French organiser's comma
    assert typed_minor("10", "KES", "price_per_vote", "en") == 1000
    assert typed_minor("100", "XAF", "price_per_vote", "en") == 100
    with pytest.raises(DomainError) as refused:
        typed_minor("10.5", "XAF", "price_per_vote", "en")
    assert refused.value.field == "price_per_vote"
    assert refused.value.message == f"XAF has no cents: type a whole amount (FCFA{NBSP}10 / FCFA{NBSP}11)."
    with pytest.raises(DomainError) as in_french:
        typed_minor("10.5", "XAF", "price_per_vote", "fr")
    assert in_french.value.message == (f"XAF n’a pas de centimes : tapez un montant entier "
                                       f"(10{NBSP}FCFA / 11{NBSP}FCFA).")
    for typed in ("10.505", "1e3", "-10", "10 000", "", "ten"):
        with pytest.raises(DomainError):
            typed_minor(typed, "KES", "price_per_vote", "en")


FRANCS_1000 = f"XAF has no cents: type a whole amount (FCFA{NBSP}1 / FCFA{NBSP}2). Without a thousands separator: 1000."


@pytest.mark.parametrize(("typed", "currency", "message"), [
    ("1,000", "XAF", FRANCS_1000),
    ("1.000", "XAF", FRANCS_1000),
    ("25,000", "KES", f"KES has 2 decimals at most (Ksh{NBSP}25.00 / Ksh{NBSP}25.01). Without a thousands separator: "
                      "25000."),
    ("100.00", "XAF", f"XAF has no cents: type a whole amount (FCFA{NBSP}100 / FCFA{NBSP}101)."),
    ("10.5000", "KES", f"KES has 2 decimals at most (Ksh{NBSP}10.50 / Ksh{NBSP}10.51).")])
def test_a_thousands_separator_or_a_digit_too_many_is_refused_never_read_as_cents(typed: str, currency: str,
                                                                                  message: str) -> None:
    """"1,000" francs was read as 1 franc and "25,000" shillings as 25: a price, a payout or a fee a thousand times
    too small, saved without a word."""
    with pytest.raises(DomainError) as refused:
        typed_minor(typed, currency, "price_per_vote", "en")
    assert (refused.value.field, refused.value.message) == ("price_per_vote", message)


def test_the_preview_says_what_voters_pay_in_the_organisers_language() -> None:
    assert price_preview("10", "KES", "en") == f"Voters pay Ksh{NBSP}10.00 a vote."
    assert price_preview("100", "xaf", "fr") == f"Les votants paient 100{NBSP}FCFA par vote."
    assert price_preview("10.5", "XAF", "en") is None and price_preview("10", "ZZZ", "en") is None


def form(token: str, **fields: Any) -> dict[str, Any]:
    flat = {k: (v if not isinstance(v, list) else ",".join(v)) for k, v in contest_fields(**fields).items()}
    return {**flat, "providers": fields.get("providers", ["mtn"])[0], "csrf_token": token}


async def test_the_form_refuses_a_price_its_provider_cannot_charge_and_keeps_what_it_can(
        client: TestClient, sessions: Sessions) -> None:
    token = await browser_sign_in(client, await make_account(sessions, "owner"))
    kenyan = form(token, currency="KES", price_per_vote="10.50", providers=["mpesa"], ussd_service_codes=[])
    refused = await client.post("/admin/contests/new?lang=en", data=kenyan, allow_redirects=False)
    page = await refused.text()
    assert refused.status == 400
    assert f"M-Pesa charges whole Kenyan shillings: Ksh{NBSP}10.00 or Ksh{NBSP}11.00." in page
    assert f"Voters pay Ksh{NBSP}10.50 a vote." in page and 'value="10.50"' in page  # what they typed, again
    async with sessions() as session:
        assert await session.scalar(select(Contest.id)) is None

    french = await client.post("/admin/contests/new?lang=fr", data=kenyan, allow_redirects=False)
    assert "M-Pesa ne prélève que des shillings kényans entiers : 10,00" in await french.text()

    cents = await client.post("/admin/contests/new?lang=en", allow_redirects=False,
                              data=form(token, price_per_vote="10.5", ussd_service_codes=[]))
    assert cents.status == 400 and "XAF has no cents" in await cents.text()

    made = await client.post("/admin/contests/new", data={**kenyan, "price_per_vote": "11"}, allow_redirects=False)
    assert made.status == 303, await made.text()
    async with sessions() as session:
        contest = (await session.scalars(select(Contest))).one()
    assert (contest.price_per_vote, contest.currency) == (1100, "KES")
    edit = await (await client.get(f"{made.headers['Location']}/edit?lang=en")).text()
    assert 'name="price_per_vote" inputmode="decimal" required value="11.00"' in edit
    assert f"Voters pay Ksh{NBSP}11.00 a vote." in edit and '<script src="/admin/static/money.js">' in edit


async def test_the_api_keeps_minor_units_and_refuses_what_a_provider_cannot_charge(
        client: TestClient, sessions: Sessions) -> None:
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    kenyan = contest_fields(currency="KES", price_per_vote=1050, providers=["mpesa"], ussd_service_codes=[])
    refused = await client.post("/api/v1/admin/contests", json=kenyan, headers=owner)
    error = (await refused.json())["error"]
    assert refused.status == 400 and error["code"] == "price_not_chargeable" and error["field"] == "price_per_vote"
    assert "M-Pesa" in error["message"] and f"Ksh{NBSP}10.00 or Ksh{NBSP}11.00" in error["message"]
    made = await client.post("/api/v1/admin/contests", json={**kenyan, "price_per_vote": 1000}, headers=owner)
    assert made.status == 201 and (await made.json())["price_per_vote"] == 1000  # minor units: KES 10


async def test_a_card_contest_in_a_currency_stripe_counts_otherwise_is_refused_not_mischarged(
        client: TestClient, sessions: Sessions) -> None:
    """Stripe reads an Ugandan or Icelandic amount otherwise than its ISO minor units (its "special cases"): a card
    contest in UGX would have charged a hundredth, or a hundred times, the price."""
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    ugandan = contest_fields(currency="UGX", country="UG", price_per_vote=500, providers=["stripe"],
                             ussd_service_codes=[])
    refused = await client.post("/api/v1/admin/contests", json=ugandan, headers=owner)
    error = (await refused.json())["error"]
    assert refused.status == 400 and error["code"] == "price_not_chargeable"
    assert error["message"] == "Bank card does not charge UGX."
    kenyan = await client.post("/api/v1/admin/contests", headers=owner, json=contest_fields(
        currency="KES", country="KE", price_per_vote=5000, providers=["stripe"], ussd_service_codes=[],
        slug="card-ksh", sms_keyword="CARDS"))
    assert kenyan.status == 201, await kenyan.text()  # any other currency, as ISO counts it
