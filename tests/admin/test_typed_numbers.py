"""Every whole number an organiser or an owner types (an amount, a fee band, a count) is ASCII digits within what its
column holds: another script's digits, a superscript, an underscore, a sign, surrounding spaces or a number past
PostgreSQL's bigint are refused with the field's message (400), on the pages and in the JSON API alike, and change
nothing; a plain number still works."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from gateway.core.entered_number import BIGINT_MAX, entered_whole
from gateway.core.errors import DomainError
from gateway.db.engine import Sessions
from gateway.db.models import Contest, EntryCall, Payout, ProviderFeeBand, ProviderFeeRate
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, contest_fields, csrf_token, make_account
from tests.admin.entries_data import give_contest
from tests.admin.test_money_api import paid_contest
from tests.factories import make_contest

NOT_AMOUNTS = ("١٠٠", "1_00", "+100", " 100 ", "１００", "²00", "100.0", "1e2", "-100", "")
PAST_BIGINT = str(BIGINT_MAX + 1)
# An amount typed on a page (in major units), refused in the organiser's words (admin.money_fields).
DIGITS_ONLY = "with digits, e.g."
TOO_LARGE = "That amount is too large."


@pytest.mark.parametrize("typed", [*NOT_AMOUNTS, PAST_BIGINT, "99999999999999999999999999", True, 1.0, None])
def test_only_ascii_digits_within_bounds_are_a_whole_number(typed: object) -> None:
    with pytest.raises(DomainError) as refused:
        entered_whole(typed, "amount")
    assert refused.value.field == "amount" and refused.value.status == 400
    assert refused.value.message.startswith("amount must be")


def test_a_plain_number_is_read_as_typed() -> None:
    assert entered_whole("100", "amount") == 100
    assert entered_whole(100, "amount") == 100  # a JSON body's number
    assert entered_whole(str(BIGINT_MAX), "amount") == BIGINT_MAX
    assert entered_whole("0042", "amount") == 42
    assert entered_whole("0" * 5000 + "1", "amount") == 1  # past int()'s 4,300 digits, all but one of them zeros
    assert entered_whole("0" * 5000, "amount") == 0
    with pytest.raises(DomainError, match="between 1 and 10"):
        entered_whole("11", "quantity", low=1, high=10)


async def payouts_asked(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Payout)) or 0)


async def test_a_payout_amount_is_digits_only_on_the_page_and_in_the_api(client: TestClient,
                                                                          sessions: Sessions) -> None:
    contest = await paid_contest(sessions)  # 1,000 XAF payable, to a bank account
    organiser = await make_account(sessions, "organiser")
    await give_contest(sessions, contest.id, organiser.id)
    theirs = bearer(await api_tokens(client, organiser))
    await browser_sign_in(client, organiser)
    page = f"/admin/contests/{contest.id}/settlement"
    api = f"/api/v1/admin/contests/{contest.id}/payouts"
    token = csrf_token(await (await client.get(page)).text())

    # The page takes major units (francs CFA have no cents) and forgives the spaces a paste leaves around them.
    for typed, refusal in (("١٠٠", DIGITS_ONLY), ("1_00", DIGITS_ONLY), ("+100", DIGITS_ONLY), ("１００", DIGITS_ONLY),
                           ("²00", DIGITS_ONLY), ("100.5", "XAF has no cents"), (PAST_BIGINT, TOO_LARGE)):
        on_page = await client.post(f"{page}/payouts", data={"csrf_token": token, "currency": "XAF",
                                                             "amount": typed}, allow_redirects=False)
        assert on_page.status == 400, typed
        assert refusal in await on_page.text(), typed
    for typed in ("١٠٠", "1_00", "+100", " 100 ", "１００", "²00", PAST_BIGINT):
        by_api = await client.post(api, json={"currency": "XAF", "amount": typed}, headers=theirs)
        assert by_api.status == 400, typed
        error = (await by_api.json())["error"]
        assert (error["field"], error["code"]) == ("amount", "invalid_field") and "amount must be" in error["message"]
    for sent in (BIGINT_MAX + 1, 100.0, True):  # a JSON number past bigint, a float, a boolean
        by_api = await client.post(api, json={"currency": "XAF", "amount": sent}, headers=theirs)
        assert by_api.status == 400 and (await by_api.json())["error"]["field"] == "amount", sent
    assert await payouts_asked(sessions) == 0

    assert (await client.post(f"{page}/payouts", data={"csrf_token": token, "currency": "XAF", "amount": "100"},
                              allow_redirects=False)).status == 303
    assert (await client.post(api, json={"currency": "XAF", "amount": "100"}, headers=theirs)).status == 201
    assert (await client.post(api, json={"currency": "XAF", "amount": 100}, headers=theirs)).status == 201
    zeros_first = "0" * 5000 + "100"  # past int()'s 4,300 digits, yet 100
    assert (await client.post(api, json={"currency": "XAF", "amount": zeros_first}, headers=theirs)).status == 201
    async with sessions() as session:
        assert list(await session.scalars(select(Payout.amount))) == [100, 100, 100, 100]


async def rates_kept(sessions: Sessions) -> tuple[int, int]:
    async with sessions() as session:
        rates = await session.scalar(select(func.count()).select_from(ProviderFeeRate))
        bands = await session.scalar(select(func.count()).select_from(ProviderFeeBand))
    return int(rates or 0), int(bands or 0)


async def test_the_fee_rate_form_takes_digits_only_and_nothing_past_a_bigint(client: TestClient,
                                                                             sessions: Sessions) -> None:
    contest = await make_contest(sessions, currency="KES", price_per_vote=1000, providers=["mpesa"])
    await browser_sign_in(client, await make_account(sessions, "owner"))
    base = f"/admin/contests/{contest.id}/settlement"
    token = csrf_token(await (await client.get(base)).text())
    rate = {"csrf_token": token, "provider": "mpesa", "currency": "kes", "percent_bp": "0", "fixed": "0"}

    # Amounts in major units (shillings), each refusal naming the band line to mend.
    in_shillings = "Type the amount in KES with digits"
    for bands, refusal in (("²000 5", f"Band line 1: {in_shillings}"),
                           (f"{PAST_BIGINT} 5", f"Band line 1: {TOO_LARGE}"),
                           ("１０００ ５", f"Band line 1: {in_shillings}"), ("1_000 5", f"Band line 1: {in_shillings}"),
                           ("10000 0\n50000 +500", f"Band line 2: {in_shillings}"),
                           ("10000 0\n50000 0.005", "Band line 2: KES has 2 decimals at most")):
        refused = await client.post(f"{base}/fee-rate", data={**rate, "bands": bands})
        assert refused.status == 400, bands
        assert refusal in await refused.text(), bands
    for field, typed, refusal in (("fixed", PAST_BIGINT, TOO_LARGE), ("fixed", "٥", DIGITS_ONLY),
                                  ("percent_bp", " 150 ", "percent_bp must be"),
                                  ("percent_bp", "+150", "percent_bp must be")):
        refused = await client.post(f"{base}/fee-rate", data={**rate, field: typed})
        assert refused.status == 400 and refusal in await refused.text(), (field, typed)
    refused = await client.post(f"{base}/commission", data={"csrf_token": token, "commission_bp": "１０"})
    assert refused.status == 400 and "commission_bp must be" in await refused.text()
    assert await rates_kept(sessions) == (0, 0)
    async with sessions() as session:
        assert await session.scalar(select(Contest.commission_bp).where(Contest.id == contest.id)) == 0

    assert (await client.post(f"{base}/fee-rate", data={**rate, "fixed": "5", "bands": "10000 0\n50000 5,50"},
                              allow_redirects=False)).status == 303
    assert await rates_kept(sessions) == (1, 2)
    async with sessions() as session:  # kept in cents
        assert await session.scalar(select(ProviderFeeRate.fixed_minor)) == 500
        assert list((await session.execute(select(ProviderFeeBand.up_to_minor, ProviderFeeBand.fixed_minor)
                                           .order_by(ProviderFeeBand.up_to_minor))).all()) == [
            (1_000_000, 0), (5_000_000, 550)]


async def test_a_contests_price_and_an_entry_fee_are_digits_within_their_columns(client: TestClient,
                                                                                 sessions: Sessions) -> None:
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    for field, typed in (("price_per_vote", "１００"), ("price_per_vote", " 100 "), ("max_votes_per_order", "٥٠"),
                         ("stars_per_vote", "1_0")):
        refused = await client.post("/api/v1/admin/contests", json=contest_fields(**{field: typed}), headers=owner)
        assert refused.status == 400 and (await refused.json())["error"]["field"] == field, (field, typed)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Contest)) == 0

    contest = await make_contest(sessions)
    now = datetime.now(UTC)
    call = {"opens_at": now.isoformat(), "closes_at": (now + timedelta(days=7)).isoformat(), "rules": "One clip."}
    at = f"/api/v1/admin/contests/{contest.id}/entries/call"
    for field, typed in (("fee_amount", PAST_BIGINT), ("fee_amount", "٥٠٠"), ("max_entries", str(2**31)),
                         ("codes_per_day", "+3")):
        refused = await client.put(at, json={**call, field: typed}, headers=owner)
        assert refused.status == 400 and (await refused.json())["error"]["field"] == field, (field, typed)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(EntryCall)) == 0
    assert (await client.put(at, json={**call, "fee_amount": "500"}, headers=owner)).status == 200


async def test_a_search_by_contest_number_refuses_what_is_not_digits(client: TestClient, sessions: Sessions) -> None:
    owner = await make_account(sessions, "owner")
    api = bearer(await api_tokens(client, owner))
    refused = await client.get("/api/v1/admin/orders", params={"contest_id": "²"}, headers=api)
    assert refused.status == 400 and (await refused.json())["error"]["field"] == "contest_id"
    assert (await client.get("/api/v1/admin/orders", params={"contest_id": "1"}, headers=api)).status == 200
    refused = await client.get("/api/v1/admin/audit", params={"limit": "１０"}, headers=api)
    assert refused.status == 400 and (await refused.json())["error"]["field"] == "limit"
    await browser_sign_in(client, owner)
    assert (await client.get("/admin/orders", params={"contest_id": "²"})).status == 400
