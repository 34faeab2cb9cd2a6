"""A contest's settlement in the admin area: an owner sets the commission and a provider's fee rate, the page adds
the contest's payments up by them, a signed statement downloads with a signature the results key verifies; an
organiser reads their own contest's (not another's) and changes no rate; bad rates are refused, changing nothing."""

from __future__ import annotations

import io

from aiohttp.test_utils import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from gateway.core.orders import counting
from gateway.core.results import signing
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Contest, ProviderFeeRate
from gateway.kit.keys import RESULTS_KEY
from tests.admin.accounts import browser_sign_in, csrf_token, make_account
from tests.admin.entries_data import give_contest
from tests.factories import make_contest, place


async def test_the_owner_sets_the_rates_and_signs_a_statement_that_adds_up(client: TestClient,
                                                                          sessions: Sessions) -> None:
    contest = await make_contest(sessions)  # 100 XAF a vote
    for quantity, number in ((4, "+237670000011"), (6, "+237670000012")):
        order = await place(sessions, contest, quantity=quantity, msisdn=number)
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", number[-2:],
                                       provider="mtn")
    await browser_sign_in(client, await make_account(sessions, "owner"))
    base = f"/admin/contests/{contest.id}/settlement"
    token = csrf_token(await (await client.get(base)).text())
    assert (await client.post(f"{base}/commission", data={"csrf_token": token, "commission_bp": "1000"},
                              allow_redirects=False)).status == 303
    assert (await client.post(f"{base}/fee-rate", data={"csrf_token": token, "provider": "mtn", "currency": "xaf",
                                                        "percent_bp": "150", "fixed": "2"},
                              allow_redirects=False)).status == 303
    page = await (await client.get(base)).text()
    assert "No difference found." in page  # the books against the providers: nothing read yet
    # 1,000 gross; MTN keeps 1.5% + 2 a payment = 19; 10% of the 1,000 kept = 100; 881 owed to the organiser.
    for label, figure in (("Gross", "1,000"), ("Provider fees", "19"), ("Commission", "100"), ("Net payable", "881")):
        assert f"<dt>{label}</dt><dd>FCFA\u00a0{figure}</dd>" in page
    bad = await client.post(f"{base}/commission", data={"csrf_token": token, "commission_bp": "20000"})
    assert bad.status == 400 and "basis points" in await bad.text()
    async with sessions() as session:
        assert await session.scalar(select(Contest.commission_bp).where(Contest.id == contest.id)) == 1000
        audited = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.action.startswith(
            "settlement.")).order_by(AuditEntry.id)))
    assert audited == ["settlement.commission", "settlement.fee_rate"]

    assert (await client.post(f"{base}/sign", data={"csrf_token": token}, allow_redirects=False)).status == 303
    page = await (await client.get(base)).text()
    link = page.split(f'href="{base}/', 1)[1].split('"', 1)[0]
    statement = await (await client.get(f"{base}/{link}")).read()
    signature = await (await client.get(f"{base}/{link}.sig")).read()
    assert b"total,,XAF,2,1000,0,19,100,881" in statement
    assert signing.signature_holds(client.app[RESULTS_KEY].public_key(), statement, signature)
    workbook = load_workbook(io.BytesIO(await (await client.get(f"{base}/{link[:-len('.csv')]}.xlsx")).read()))
    totals = next(row for row in workbook.active.iter_rows(values_only=True) if row[0] == "total")
    assert totals == ("total", None, "XAF", 2, 1000, 0, 19, 100, 881)


async def test_an_organiser_reads_their_own_settlement_only_and_sets_no_rate(client: TestClient,
                                                                           sessions: Sessions) -> None:
    mine, theirs = await make_contest(sessions), await make_contest(sessions)
    organiser = await make_account(sessions, "organiser")
    await give_contest(sessions, mine.id, organiser.id)
    await browser_sign_in(client, organiser)
    page = await client.get(f"/admin/contests/{mine.id}/settlement")
    html = await page.text()
    assert page.status == 200 and "No payment yet." in html and "Save the commission" not in html
    assert (await client.get(f"/admin/contests/{theirs.id}/settlement")).status == 404
    refused = await client.post(f"/admin/contests/{mine.id}/settlement/commission",
                                data={"csrf_token": csrf_token(html), "commission_bp": "0"})
    assert refused.status == 403


async def test_the_owner_keeps_a_rate_by_bands_and_the_page_shows_each_providers_fees_by_them(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, currency="KES", price_per_vote=1000, providers=["mpesa"], country="KE",
                                 time_zone="Africa/Nairobi")
    for quantity, number in ((5, "+254712000011"), (20, "+254712000012")):  # KES 50 and KES 200
        order = await place(sessions, contest, quantity=quantity, provider="mpesa", msisdn=number)
        await counting.confirm_payment(sessions, order.id, "0", order.amount, "KES", f"RCPT0000{number[-2:]}",
                                       provider="mpesa")
    await browser_sign_in(client, await make_account(sessions, "owner"))
    base = f"/admin/contests/{contest.id}/settlement"
    token = csrf_token(await (await client.get(base)).text())
    rate = {"csrf_token": token, "provider": "mpesa", "currency": "kes", "percent_bp": "0", "fixed": "0"}
    bad = await client.post(f"{base}/fee-rate", data={**rate, "bands": "100 0\n500 five"})
    assert bad.status == 400 and "Type the amount in KES with digits" in await bad.text()
    cents = await client.post(f"{base}/fee-rate", data={**rate, "bands": "100 0\n500 5.005"})
    assert cents.status == 400 and "KES has 2 decimals at most" in await cents.text()
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ProviderFeeRate)) == 0  # nothing kept
    # typed in shillings (a French owner's decimal comma too): kept in cents, as the API and the core keep them
    assert (await client.post(f"{base}/fee-rate", data={**rate, "bands": "100 0\n500 5,00\n"},
                              allow_redirects=False)).status == 303
    page = await (await client.get(base)).text()
    assert "<dt>Provider fees</dt><dd>Ksh\u00a05.00</dd>" in page  # KES 50 free, KES 200 five shillings
    assert ("<td>Ksh\u00a05.00</td><td>2 bands by amount; above them 0 basis points + Ksh\u00a00.00 a payment</td>"
            in page)
    assert "<td>100.00 0.00<br>500.00 5.00</td>" in page
    async with sessions() as session:
        [audited] = list(await session.scalars(select(AuditEntry.after).where(
            AuditEntry.action == "settlement.fee_rate")))
    assert audited["bands"] == ["10000 0", "50000 500"]
