"""Voting by paying a contest's paybill from the M-Pesa menu (Daraja's C2B), our app and the M-Pesa sandbox over real
localhost HTTP: the sandbox registers our URLs, asks our validation, makes the payment, posts its confirmation and
lists it in Pull Transactions, as Daraja does."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select, update

from assembly.settings import Settings
from assembly.worker.job_runtime import JobContext
from gateway.core.audit import Actor
from gateway.core.contests import contests_admin
from gateway.core.money_in.paid_unasked import UnaskedPayment, order_of_receipt, write_order
from gateway.core.money_in.verification.by_status import Verified, verify_due
from gateway.core.money_out.refunds_sent import refunds_pass
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Candidate, Contest, OrderStatus, ProviderEvent, VoteOrder
from gateway.kit.keys import PROVIDERS, SETTINGS
from payments.mpesa.api import EAST_AFRICA
from payments.mpesa.c2b_passes import statement_pass
from payments.mpesa.callback_secret import callback_key
from payments.mpesa.collections import MpesaCollections
from payments.mpesa.paths import confirmation_url, validation_url
from payments.mpesa.paybills import PaybillSettings
from tests.factories import assert_tally_invariant, tallies
from tests.payments.mpesa.mpesa_live import LiveMpesa, live_mpesa

PAYBILL = "174379"  # the sandbox's shortcode


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[LiveMpesa]:
    async with live_mpesa(settings, sessions) as running:
        await paybill_rule(running, "hold")
        assert await mpesa_of(running).registration.register(PAYBILL) == "registered"
        yield running


async def paybill_rule(live: LiveMpesa, remainder: Any) -> None:
    async with live.sessions.begin() as session:
        await PaybillSettings(paybill=PAYBILL, remainder=remainder).save(session, live.contest.id)


def mpesa_of(live: LiveMpesa) -> MpesaCollections:
    mpesa = live.client.app[PROVIDERS].get("mpesa")
    assert isinstance(mpesa, MpesaCollections)
    return mpesa


async def pay(live: LiveMpesa, account: str, shillings: int, phone: str = "254712000102") -> dict[str, Any]:
    """A customer pays the paybill from the M-Pesa menu (the sandbox's simulate): what the sandbox did."""
    response = await mpesa_of(live).daraja.post("/mpesa/c2b/v1/simulate", {
        "ShortCode": PAYBILL, "CommandID": "CustomerPayBillOnline", "Amount": shillings, "Msisdn": phone,
        "BillRefNumber": account})
    assert response.status_code == 200, response.text
    made: dict[str, Any] = response.json()["sandbox"]
    return made


async def decided(live: LiveMpesa, receipt: str, timeout: float = 5.0,
                  until: OrderStatus | None = None) -> VoteOrder:
    """The order the payment's receipt wrote, once decided (the confirmation comes after the simulate's answer), or
    once `until` is its status."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        order_id = await order_of_receipt(live.sessions, "mpesa", receipt)
        if order_id is not None:
            async with live.sessions() as session:
                order = await session.get(VoteOrder, order_id)
            if order is not None and order.status is not OrderStatus.PENDING and until in (None, order.status):
                return order
        assert asyncio.get_running_loop().time() < deadline, f"no decided order for {receipt}"
        await asyncio.sleep(0.02)


async def votes(live: LiveMpesa) -> dict[str, int]:
    await assert_tally_invariant(live.sessions, live.contest.id)
    return await tallies(live.sessions, live.contest.id)


def job(live: LiveMpesa, settings: Settings, redis: Redis) -> JobContext:
    return JobContext(live.client.app[SETTINGS], live.sessions, redis, live.client.app[PROVIDERS])


async def test_validation_refuses_an_unknown_code_before_any_money_moves(live: LiveMpesa) -> None:
    made = await pay(live, "99", 50)
    assert made["TransID"] is None  # the sandbox, as Daraja, made no payment
    assert made["validation"]["ResultCode"] == "C2B00012"
    under = await pay(live, "01", 5)  # under one vote's price
    assert under["TransID"] is None and under["validation"]["ResultCode"] == "C2B00013"
    assert "KES 10.00 a vote" in under["validation"]["ResultDesc"]
    assert (await votes(live))["01"] == 0


async def test_a_remainder_is_refused_before_any_money_moves_where_the_contest_gives_it_back(
        live: LiveMpesa) -> None:
    """Daraja reverses only whole payments: a contest that gives a remainder back refuses it at validation, naming
    the price, rather than taking KES 15 and reversing all of it."""
    await paybill_rule(live, "refund")
    made = await pay(live, "01", 15)
    assert made["TransID"] is None
    assert made["validation"] == {"ResultCode": "C2B00013",
                                  "ResultDesc": "Rejected: pay a whole number of votes, KES 10.00 a vote"}
    whole = await pay(live, "01", 20)
    assert (await decided(live, whole["TransID"])).status is OrderStatus.PAID
    assert (await votes(live))["01"] == 2


async def test_validation_accepts_a_code_as_people_type_it_and_its_votes_count(live: LiveMpesa) -> None:
    made = await pay(live, " 3", 50)  # "03", typed without its leading zero and with a space
    assert made["validation"] == {"ResultCode": "0", "ResultDesc": "Accepted"}
    order = await decided(live, made["TransID"])
    assert order.status is OrderStatus.PAID and order.quantity == 5 and order.provider_txn_id == made["TransID"]
    assert order.voter_ref is not None and order.voter_ref.startswith("mpesa-payer:")  # Daraja's hash of the number
    assert (await votes(live))["03"] == 5


async def test_a_confirmation_sent_again_counts_once(live: LiveMpesa) -> None:
    live.control.duplicate_callbacks = 3
    made = await pay(live, "01", 30)
    order = await decided(live, made["TransID"])
    key = callback_key(live.client.app[SETTINGS].secret_key.get_secret_value())
    again = {"TransactionType": "Pay Bill", "TransID": made["TransID"], "TransTime": "20261128101010",
             "TransAmount": "30.00", "BusinessShortCode": PAYBILL, "BillRefNumber": "01", "MSISDN": "ab" * 32}
    url = confirmation_url("", key, PAYBILL)
    assert (await live.client.post(url, json=again)).status == 200
    assert (await votes(live))["01"] == 3 and order.quantity == 3


async def test_a_bundles_amount_paid_into_the_paybill_buys_the_bundles_votes(live: LiveMpesa) -> None:
    """KES 10 a vote, 10 votes for KES 90: 90 paid buys 10 votes, as the same bundle bought on any channel does; even
    where a remainder is given back, the bundle's amount is no remainder."""
    async with live.sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == live.contest.id)
                              .values(price_tiers=[{"votes": 10, "amount": 9000}]))
    await paybill_rule(live, "refund")
    made = await pay(live, "01", 90)
    assert made["validation"] == {"ResultCode": "0", "ResultDesc": "Accepted"}
    order = await decided(live, made["TransID"])
    assert (order.status, order.quantity, order.amount) == (OrderStatus.PAID, 10, 9000)
    assert (await votes(live))["01"] == 10


async def test_a_remainder_is_held_for_a_person_by_default(live: LiveMpesa) -> None:
    order = await decided(live, (await pay(live, "01", 35))["TransID"])
    assert order.status is OrderStatus.HELD and order.quantity == 3
    assert "3 votes at 10.00 KES and 5.00 KES more" in (order.hold_reason or "")
    assert (await votes(live))["01"] == 0  # until a person counts or rejects it


async def test_a_remainder_is_given_back_by_a_reversal_where_the_contest_says_so(
        live: LiveMpesa, settings: Settings, redis: Redis) -> None:
    """Where Safaricom did not turn validation on, a remainder is taken: it is reversed, whole."""
    await paybill_rule(live, "refund")
    async with httpx.AsyncClient() as http:  # paid from the phone's menu, no validation asked
        made = (await http.post(f"{live.sandbox_url}/mpesa/sandbox/c2b", json={
            "phone": "254712000102", "amount": 35, "bill_reference": "01"})).json()
    made["TransID"] = made["transactionId"]
    await statement_pass(job(live, settings, redis))
    order = await decided(live, made["TransID"], until=OrderStatus.REFUND_REQUESTED)
    assert "5.00 KES more" in (order.status_reason or "")
    # the reversal goes out (its row is owed at the database's time: the pass looks a little later)
    await refunds_pass(live.sessions, live.client.app[PROVIDERS], datetime.now(UTC) + timedelta(seconds=5))
    for _ in range(100):
        if made["TransID"] in (await live.paid_out())["reversed_receipts"]:
            break
        await asyncio.sleep(0.05)
    assert made["TransID"] in (await live.paid_out())["reversed_receipts"]
    assert (await votes(live))["01"] == 0


async def test_a_lost_confirmation_is_counted_from_the_statement(live: LiveMpesa, settings: Settings,
                                                                 redis: Redis) -> None:
    live.control.drop_callbacks = True
    made = await pay(live, "02", 40)
    await asyncio.sleep(0.2)
    assert await order_of_receipt(live.sessions, "mpesa", made["TransID"]) is None  # nothing reached us
    assert await statement_pass(job(live, settings, redis)) == 1
    order = await decided(live, made["TransID"])
    assert order.status is OrderStatus.PAID and order.quantity == 4
    assert await statement_pass(job(live, settings, redis)) == 0  # read again: nothing twice
    assert (await votes(live))["02"] == 4


async def test_a_forged_confirmation_is_taken_back_and_flagged_once_the_statement_lacks_it(
        live: LiveMpesa, settings: Settings, redis: Redis) -> None:
    """A confirmation on the URL's secret counts at once; Safaricom's statement, read past its time, never lists
    it: the verification takes its votes back off and flags the order for a person."""
    key = callback_key(live.client.app[SETTINGS].secret_key.get_secret_value())
    when = (datetime.now(EAST_AFRICA) - timedelta(minutes=20)).strftime("%Y%m%d%H%M%S")
    forged = {"TransactionType": "Pay Bill", "TransID": "FORGED0001", "TransTime": when, "TransAmount": "100.00",
              "BusinessShortCode": PAYBILL, "BillRefNumber": "04", "MSISDN": "254712000999"}
    assert (await live.client.post(confirmation_url("", key, PAYBILL), json=forged)).status == 200
    order = await decided(live, "FORGED0001")
    assert order.status is OrderStatus.PAID and (await votes(live))["04"] == 10
    await statement_pass(job(live, settings, redis))  # the statement, read whole: no such payment
    done = await verify_due(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=1))
    assert (order.id, Verified.DISAGREED) in done
    async with live.sessions() as session:
        flagged = await session.get(VoteOrder, order.id)
        assert flagged is not None and flagged.status is OrderStatus.FLAGGED
    assert (await votes(live))["04"] == 0


async def test_a_forged_confirmation_without_a_believable_time_is_taken_back_too(live: LiveMpesa) -> None:
    """A forged confirmation with no TransTime, or one far ahead, is placed when it came: once the statement was read
    past that, its absence takes its votes back off."""
    key = callback_key(live.client.app[SETTINGS].secret_key.get_secret_value())
    ahead = (datetime.now(EAST_AFRICA) + timedelta(days=1)).strftime("%Y%m%d%H%M%S")
    orders = []
    for receipt, told in (("FORGED0003", {}), ("FORGED0004", {"TransTime": ahead})):
        forged = {"TransactionType": "Pay Bill", "TransID": receipt, "TransAmount": "100.00",
                  "BusinessShortCode": PAYBILL, "BillRefNumber": "04", "MSISDN": "254712000999", **told}
        assert (await live.client.post(confirmation_url("", key, PAYBILL), json=forged)).status == 200
        orders.append((await decided(live, receipt)).id)
    assert (await votes(live))["04"] == 20
    await mpesa_of(live).read_paybill(PAYBILL, now=datetime.now(UTC) + timedelta(minutes=16))  # read past them
    done = await verify_due(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=1))
    assert {(order_id, Verified.DISAGREED) for order_id in orders} <= set(done)
    assert (await votes(live))["04"] == 0


async def confirm(live: LiveMpesa, receipt: str, paid_at: datetime, account: str = "04",
                  shillings: int = 100) -> VoteOrder:
    """Daraja's confirmation of a payment made at `paid_at`, on the paybill's URL: its order once decided."""
    key = callback_key(live.client.app[SETTINGS].secret_key.get_secret_value())
    body = {"TransactionType": "Pay Bill", "TransID": receipt, "TransTime": paid_at.astimezone(EAST_AFRICA)
            .strftime("%Y%m%d%H%M%S"), "TransAmount": f"{shillings}.00", "BusinessShortCode": PAYBILL,
            "BillRefNumber": account, "MSISDN": "254712000999"}
    assert (await live.client.post(confirmation_url("", key, PAYBILL), json=body)).status == 200
    return await decided(live, receipt)


async def voting_window(live: LiveMpesa, opens_at: datetime, closes_at: datetime) -> None:
    async with live.sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == live.contest.id)
                              .values(opens_at=opens_at, closes_at=closes_at))


async def test_a_payment_is_judged_by_when_the_money_moved_not_when_its_word_came(live: LiveMpesa) -> None:
    """Paid a minute before the close, confirmed two minutes after it: counted. Paid before the contest opened (a
    paybill used again for the next show), confirmed once it is open: held, never counted for this contest."""
    now = datetime.now(UTC)
    await voting_window(live, now - timedelta(hours=1), now - timedelta(minutes=2))
    on_time = await confirm(live, "ONTIME0001", now - timedelta(minutes=3))
    assert on_time.status is OrderStatus.PAID and (await votes(live))["04"] == 10
    await voting_window(live, now - timedelta(minutes=5), now + timedelta(hours=1))
    early = await confirm(live, "EARLY00001", now - timedelta(minutes=10))
    assert early.status is OrderStatus.HELD and "not_yet" in (early.hold_reason or "")
    assert (await votes(live))["04"] == 10


async def test_an_order_a_crash_left_pending_is_counted_by_the_next_word(live: LiveMpesa) -> None:
    """The process died between writing a payment's order and counting it: Daraja's next word of the payment (its
    confirmation sent again, or the statement) counts it, once."""
    async with live.sessions() as session:
        candidate = await session.scalar(select(Candidate.id).where(Candidate.contest_id == live.contest.id,
                                                                    Candidate.code == "04"))
    assert candidate is not None
    payment = UnaskedPayment("mpesa", "paybill", live.contest.id, "04", 10_000, "KES", "CRASHED001")
    assert await write_order(live.sessions, payment, candidate, 10, None, datetime.now(UTC)) is not None
    order = await confirm(live, "CRASHED001", datetime.now(UTC) - timedelta(minutes=1))
    assert order.status is OrderStatus.PAID
    await confirm(live, "CRASHED001", datetime.now(UTC) - timedelta(minutes=1))
    assert (await votes(live))["04"] == 10


async def close_by_hand(live: LiveMpesa) -> None:
    await contests_admin.change_status(live.sessions, Actor(None, "owner@example.org", "owner"), live.contest.id,
                                       "close")


async def test_a_closed_contests_paybill_still_takes_the_words_of_payments_made_before_the_close(
        live: LiveMpesa, settings: Settings, redis: Redis) -> None:
    """The organiser closes the contest; a payment made a minute before comes in after it, and another's
    confirmation never comes: both count, the second found by the statement, still read after the close."""
    live.control.drop_callbacks = True
    lost = await pay(live, "02", 40)
    await close_by_hand(live)
    late = await confirm(live, "LATE000001", datetime.now(UTC) - timedelta(minutes=1))
    assert late.status is OrderStatus.PAID
    assert await statement_pass(job(live, settings, redis)) == 1
    assert (await decided(live, lost["TransID"])).status is OrderStatus.PAID
    tally = await votes(live)
    assert tally["02"] == 4 and tally["04"] == 10
    # paid after the close (dated ahead: placed when its word came): for a person
    after = await confirm(live, "AFTER00001", datetime.now(UTC) + timedelta(minutes=5))
    assert after.status is OrderStatus.HELD and "closed" in (after.hold_reason or "")


async def test_a_payment_into_a_paybill_no_contest_takes_is_kept_for_a_person(live: LiveMpesa) -> None:
    key = callback_key(live.client.app[SETTINGS].secret_key.get_secret_value())
    body = {"TransactionType": "Pay Bill", "TransID": "NOBODY0001", "TransAmount": "100.00",
            "BusinessShortCode": "600000", "BillRefNumber": "04", "MSISDN": "254712000999"}
    assert (await live.client.post(confirmation_url("", key, "600000"), json=body)).status == 200
    async with live.sessions() as session:
        kept = await session.scalar(select(ProviderEvent.outcome).where(ProviderEvent.event_id.contains("NOBODY0001")))
        audited = await session.scalar(select(AuditEntry.details).where(AuditEntry.action == "payment.unmatched",
                                                                        AuditEntry.target == "NOBODY0001"))
    assert kept == "unmatched" and audited is not None and audited["amount"] == 10_000
    assert await order_of_receipt(live.sessions, "mpesa", "NOBODY0001") is None


async def test_a_confirmation_older_than_the_statements_first_read_keeps_its_votes(
        live: LiveMpesa, settings: Settings, redis: Redis) -> None:
    """The paybill's statement is read for the first time only hours after a payment was confirmed (Pull
    Transactions registered late): its first read reaches back two hours, so the payment's absence proves nothing,
    and its votes stand, waiting in the verification queue for a person."""
    key = callback_key(live.client.app[SETTINGS].secret_key.get_secret_value())
    await voting_window(live, datetime.now(UTC) - timedelta(hours=4), datetime.now(UTC) + timedelta(hours=1))
    when = (datetime.now(EAST_AFRICA) - timedelta(hours=3)).strftime("%Y%m%d%H%M%S")
    earlier = {"TransactionType": "Pay Bill", "TransID": "EARLIER001", "TransTime": when, "TransAmount": "100.00",
               "BusinessShortCode": PAYBILL, "BillRefNumber": "04", "MSISDN": "254712000999"}
    assert (await live.client.post(confirmation_url("", key, PAYBILL), json=earlier)).status == 200
    order = await decided(live, "EARLIER001")
    await statement_pass(job(live, settings, redis))
    done = await verify_due(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=1))
    assert (order.id, Verified.ASK_AGAIN) in done
    async with live.sessions() as session:
        kept = await session.get(VoteOrder, order.id)
        assert kept is not None and kept.status is OrderStatus.PAID
    assert (await votes(live))["04"] == 10


async def test_a_genuine_confirmation_is_agreed_by_the_statement(live: LiveMpesa, settings: Settings,
                                                                 redis: Redis) -> None:
    order = await decided(live, (await pay(live, "5", 20))["TransID"])  # "5": the statement's bill reference too
    await statement_pass(job(live, settings, redis))
    done = await verify_due(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=1))
    assert (order.id, Verified.AGREED) in done
    assert (await votes(live))["05"] == 2


async def test_a_confirmation_naming_another_account_than_the_statement_is_taken_back(
        live: LiveMpesa, settings: Settings, redis: Redis) -> None:
    """A real payment for candidate 02, its confirmation forged to name 04: the statement lists the receipt at its
    amount, but for account 02, so the votes for 04 are taken back off and the order flagged."""
    async with httpx.AsyncClient() as http:  # paid from the phone's menu, for 02
        paid = (await http.post(f"{live.sandbox_url}/mpesa/sandbox/c2b", json={
            "phone": "254712000102", "amount": 40, "bill_reference": "02"})).json()
    order = await confirm(live, paid["transactionId"], datetime.now(UTC) - timedelta(minutes=1), account="4",
                          shillings=40)
    assert (await votes(live))["04"] == 4
    await statement_pass(job(live, settings, redis))
    done = await verify_due(live.sessions, live.client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=1))
    assert (order.id, Verified.DISAGREED) in done
    assert (await votes(live))["04"] == 0 and (await votes(live))["02"] == 0


async def test_a_wrong_secret_on_the_c2b_urls_is_refused(live: LiveMpesa) -> None:
    other = callback_key("another-secret-key-entirely-0123456789")
    body = {"TransID": "FORGED0002", "TransAmount": "10.00", "BusinessShortCode": PAYBILL, "BillRefNumber": "01"}
    for url in (confirmation_url("", other, PAYBILL), validation_url("", other, PAYBILL)):
        assert (await live.client.post(url, json=body)).status == 400
    assert await order_of_receipt(live.sessions, "mpesa", "FORGED0002") is None


async def test_the_old_callback_paths_still_answer(live: LiveMpesa) -> None:
    path = live.callback_path(uuid.uuid4())  # /payments/mpesa/callback/…: prompts in flight when it changed
    assert path.startswith("/payments/mpesa/")
    assert (await live.client.post(path, json={})).status != 404
