"""Payouts in the admin area: an organiser proves their wallet with the code texted to it and asks for a payout up to
the balance; an owner approves it with a fresh code of their authenticator (not a used one, not a wrong one); the
one who asked never approves; bad input is refused with the page and changes nothing."""

from __future__ import annotations

import re

import pyotp
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from gateway.core.orders import counting
from gateway.core.phone_texts import TEXT_CODE_PASS
from gateway.db.engine import Sessions
from gateway.db.models import AdminUser, Contest, Payout, PayoutAccount, PayoutState
from gateway.kit.keys import QUEUE
from tests.admin.accounts import Account, browser_sign_in, csrf_token, fresh_code, make_account
from tests.admin.entries_data import give_contest
from tests.factories import make_contest, place

WALLET = "+237670000123"


async def paid_contest(sessions: Sessions) -> Contest:
    contest = await make_contest(sessions)
    order = await place(sessions, contest, quantity=10)  # 1,000 XAF, no fee, no commission: 1,000 owed
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", "T1", provider="mtn")
    return contest


def texted_code(client: TestClient, number: str) -> str:
    [job] = [job for job in client.app[QUEUE].get_jobs() if job.args[:1] == [TEXT_CODE_PASS]]
    assert job.args[1] == number
    found = re.search(r"\b(\d{6})\b", job.args[2])
    assert found is not None
    return found.group(1)


async def bank_payout_asked(client: TestClient, base: str) -> None:
    """The signed-in account gives the contest a bank account and asks for 500 XAF of its balance."""
    _, token = await page(client, base)
    assert (await client.post(f"{base}/payout-account", data={
        "csrf_token": token, "kind": "bank", "holder": "Ada Organiser SARL",
        "bank_details": "Afriland First Bank, 10005 00001 0123456789 01"}, allow_redirects=False)).status == 303
    assert (await client.post(f"{base}/payouts", data={"csrf_token": token, "currency": "XAF", "amount": "500"},
                              allow_redirects=False)).status == 303


async def page(client: TestClient, base: str) -> tuple[str, str]:
    html = await (await client.get(base)).text()
    return html, csrf_token(html)


async def test_an_organiser_proves_a_wallet_asks_and_an_owner_approves(client: TestClient, sessions: Sessions) -> None:
    contest = await paid_contest(sessions)
    organiser = await make_account(sessions, "organiser")
    await give_contest(sessions, contest.id, organiser.id)
    await browser_sign_in(client, organiser)
    base = f"/admin/contests/{contest.id}/settlement"
    html, token = await page(client, base)
    assert "None yet: set one before asking for a payout." in html
    sent = await client.post(f"{base}/payout-account/code", data={"csrf_token": token, "kind": "mtn",
                                                                  "msisdn": "670 00 01 23"})
    assert sent.status == 200 and f"A code was texted to {WALLET}." in await sent.text()
    code = texted_code(client, WALLET)
    wrong = await client.post(f"{base}/payout-account", data={
        "csrf_token": token, "kind": "mtn", "msisdn": WALLET, "holder": "Ada Organiser",
        "code": "000000" if code != "000000" else "111111"})
    assert wrong.status == 422 and "not the code we sent" in await wrong.text()
    async with sessions() as session:
        assert await session.get(PayoutAccount, contest.id) is None
    kept = await client.post(f"{base}/payout-account", data={
        "csrf_token": token, "kind": "mtn", "msisdn": WALLET, "holder": "Ada Organiser", "code": code},
        allow_redirects=False)
    assert kept.status == 303, await kept.text()
    over = await client.post(f"{base}/payouts", data={"csrf_token": token, "currency": "XAF", "amount": "1001"})
    assert over.status == 409 and "The balance is 1000 XAF" in await over.text()
    cents = await client.post(f"{base}/payouts", data={"csrf_token": token, "currency": "XAF", "amount": "10.5"})
    assert cents.status == 400
    assert "XAF has no cents: type a whole amount (FCFA\u00a010 / FCFA\u00a011)." in await cents.text()
    assert (await client.post(f"{base}/payouts", data={"csrf_token": token, "currency": "XAF", "amount": "700"},
                              allow_redirects=False)).status == 303
    html, token = await page(client, base)
    assert "awaiting approval" in html and "/approve" not in html  # an organiser decides nothing
    payout_id = await only_payout(sessions)
    refused = await client.post(f"{base}/payouts/{payout_id}/approve", data={"csrf_token": token, "code": "123456"})
    assert refused.status == 403

    owner = await make_account(sessions, "owner")
    client.session.cookie_jar.clear()  # the organiser leaves; an owner signs in on the same browser
    await browser_sign_in(client, owner)
    html, token = await page(client, base)
    assert "<dt>Balance</dt><dd>FCFA\u00a0300</dd>" in html
    assert "<dt>Payouts under way</dt><dd>FCFA\u00a0700</dd>" in html
    used = await client.post(f"{base}/payouts/{payout_id}/approve",
                             data={"csrf_token": token, "code": await last_used_code(sessions, owner)})
    assert used.status == 403 and "fresh one of your authenticator" in await used.text()
    assert await state_of(sessions) is PayoutState.AWAITING_APPROVAL
    approved = await client.post(f"{base}/payouts/{payout_id}/approve",
                                 data={"csrf_token": token, "code": await fresh_code(client, owner)},
                                 allow_redirects=False)
    assert approved.status == 303, await approved.text()
    assert await state_of(sessions) is PayoutState.REQUESTED  # for the worker to send by MTN's transfer
    html, _ = await page(client, base)
    assert f"<code>{payout_id}</code>" in html  # our reference: MTN's X-Reference-Id, on its statement too


async def test_the_owner_who_asked_cannot_approve(client: TestClient, sessions: Sessions) -> None:
    contest = await paid_contest(sessions)
    owner = await make_account(sessions, "owner")
    await browser_sign_in(client, owner)
    base = f"/admin/contests/{contest.id}/settlement"
    await bank_payout_asked(client, base)
    html, token = await page(client, base)
    assert "Another owner approves it." in html
    payout_id = await only_payout(sessions)
    refused = await client.post(f"{base}/payouts/{payout_id}/approve",
                                data={"csrf_token": token, "code": await fresh_code(client, owner)})
    assert refused.status == 403 and "not the person who asked" in await refused.text()
    assert await state_of(sessions) is PayoutState.AWAITING_APPROVAL


async def test_a_wallet_abroad_or_no_number_gets_no_code(client: TestClient, sessions: Sessions) -> None:
    contest = await paid_contest(sessions)
    await browser_sign_in(client, await make_account(sessions, "owner"))
    base = f"/admin/contests/{contest.id}/settlement"
    _, token = await page(client, base)
    for number, why in (("+33612345678", "a mobile of the contest"), ("12", "not a phone number"),
                        ("+254712000102", "a mobile of the contest")):  # a wallet MTN Cameroon cannot pay
        answer = await client.post(f"{base}/payout-account/code", data={"csrf_token": token, "kind": "mtn",
                                                                        "msisdn": number})
        assert answer.status == 400 and why in await answer.text()
    assert [job for job in client.app[QUEUE].get_jobs() if job.args[:1] == [TEXT_CODE_PASS]] == []


async def only_payout(sessions: Sessions) -> str:
    async with sessions() as session:
        return str((await session.scalars(select(Payout.id))).one())


async def state_of(sessions: Sessions) -> PayoutState:
    async with sessions() as session:
        return (await session.scalars(select(Payout.state))).one()


async def last_used_code(sessions: Sessions, account: Account) -> str:
    """The code the account signed in with (its step is used up)."""
    async with sessions() as session:
        step = await session.scalar(select(AdminUser.totp_last_step).where(AdminUser.id == account.id))
    assert step is not None
    return pyotp.TOTP(account.secret).generate_otp(step)


async def test_a_payout_is_decided_only_under_its_own_contests_url(client: TestClient, sessions: Sessions) -> None:
    """An owner's approval, decline or "paid" posted under contest X's page for a payout of contest Y moves nothing:
    the page they read was X's, so Y's money is not theirs to decide from it."""
    theirs, other = await paid_contest(sessions), await paid_contest(sessions)
    owner = await make_account(sessions, "owner")
    await browser_sign_in(client, owner)
    base = f"/admin/contests/{theirs.id}/settlement"
    await bank_payout_asked(client, base)
    payout_id = await only_payout(sessions)
    client.session.cookie_jar.clear()
    approver = await make_account(sessions, "owner", "approver@example.com")
    await browser_sign_in(client, approver)
    wrong = f"/admin/contests/{other.id}/settlement"
    _, token = await page(client, wrong)
    for action, data in (("approve", {"code": await fresh_code(client, approver)}), ("decline", {"reason": "no"}),
                         ("paid", {"proof": "VIR-0042"})):
        answer = await client.post(f"{wrong}/payouts/{payout_id}/{action}", data={"csrf_token": token, **data})
        assert answer.status == 404, (action, answer.status)
        assert await state_of(sessions) is PayoutState.AWAITING_APPROVAL
    right = await client.post(f"{base}/payouts/{payout_id}/decline", data={"csrf_token": token, "reason": "no"},
                              allow_redirects=False)
    assert right.status == 303 and await state_of(sessions) is PayoutState.DECLINED


async def test_a_payout_in_shillings_is_typed_and_shown_in_shillings(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, currency="KES", price_per_vote=1000, providers=["mpesa"], country="KE",
                                 time_zone="Africa/Nairobi")
    order = await place(sessions, contest, quantity=5, provider="mpesa", msisdn="+254712000011")  # KES 50.00
    await counting.confirm_payment(sessions, order.id, "0", order.amount, "KES", "RCPT000011", provider="mpesa")
    organiser = await make_account(sessions, "organiser")
    await give_contest(sessions, contest.id, organiser.id)
    await browser_sign_in(client, organiser)
    base = f"/admin/contests/{contest.id}/settlement"
    html, token = await page(client, base)
    assert (await client.post(f"{base}/payout-account", data={
        "csrf_token": token, "kind": "bank", "holder": "Wanjiru Events", "bank_details": "KCB, 1234567890"},
        allow_redirects=False)).status == 303
    html, token = await page(client, base)
    assert "Amount, e.g. 10.50" in html
    refused = await client.post(f"{base}/payouts", data={"csrf_token": token, "currency": "KES", "amount": "10.505"})
    assert refused.status == 400 and "KES has 2 decimals at most" in await refused.text()
    assert (await client.post(f"{base}/payouts", data={"csrf_token": token, "currency": "KES", "amount": "10.50"},
                              allow_redirects=False)).status == 303
    async with sessions() as session:
        [payout] = list(await session.scalars(select(Payout)))
    assert (payout.amount, payout.currency) == (1050, "KES")  # cents, as the API and the books keep them
    html, _ = await page(client, base)
    assert "<td>Ksh\u00a010.50</td>" in html and "<dt>Payouts under way</dt><dd>Ksh\u00a010.50</dd>" in html


async def test_a_kenyan_organiser_proves_an_m_pesa_wallet_typed_as_kenyans_write_it(client: TestClient,
                                                                                   sessions: Sessions) -> None:
    contest = await make_contest(sessions, currency="KES", price_per_vote=1000, providers=["mpesa"], country="KE",
                                 time_zone="Africa/Nairobi")
    organiser = await make_account(sessions, "organiser")
    await give_contest(sessions, contest.id, organiser.id)
    await browser_sign_in(client, organiser)
    base = f"/admin/contests/{contest.id}/settlement"
    _, token = await page(client, base)
    sent = await client.post(f"{base}/payout-account/code", data={"csrf_token": token, "kind": "mpesa",
                                                                  "msisdn": "0712 000 102"})
    assert sent.status == 200, await sent.text()
    code = texted_code(client, "+254712000102")
    assert (await client.post(f"{base}/payout-account", data={
        "csrf_token": token, "kind": "mpesa", "msisdn": "0712 000 102", "holder": "Wanjiru Events", "code": code},
        allow_redirects=False)).status == 303
    async with sessions() as session:
        [account] = list(await session.scalars(select(PayoutAccount)))
    assert (account.kind, account.msisdn) == ("mpesa", "+254712000102")
