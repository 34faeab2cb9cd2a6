"""What a Transaction Status query's answer may decide of an M-Pesa payout whose Result was lost: Daraja's own
"Failed" fails it (its amount back to the balance), and an answer posted to our status URL without the payout's
secret is refused and decides nothing (a forged "Failed" would give back, to be paid out again, money Daraja paid),
nor is one kept that no query of ours awaits. Our app and the Daraja sandbox over localhost; respx for the last."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from redis.asyncio import Redis
from sqlalchemy import select

from assembly.settings import Settings
from gateway.core.money_out import payouts
from gateway.core.money_out.payouts_sent import payouts_pass
from gateway.core.providers import PaymentState
from gateway.db.engine import Sessions
from gateway.db.models import Payout, PayoutState
from gateway.kit.keys import PROVIDERS
from payments.mpesa.outgoing_results import OutgoingResults
from tests.payments.mpesa.mpesa_live import LiveMpesa, live_mpesa
from tests.payments.mpesa.test_mpesa_money_out import ORGANISER, approved_payout, paid_takings, passes_until_settled
from tests.payments.mpesa.test_mpesa_status_query_wire import fake_daraja, money_out, payout

REFUSING_WALLET = "+254712000451"  # the sandbox's B2C to it fails: 2040, the payee's account cannot take it


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[LiveMpesa]:
    async with live_mpesa(settings.model_copy(update={"mpesa_status_query_after_seconds": 0.0}), sessions) as running:
        yield running


async def payout_row(live: LiveMpesa, payout: Payout) -> Payout:
    async with live.sessions() as session:
        row = (await session.scalars(select(Payout).where(Payout.id == payout.id))).one()
    return row


async def test_a_payout_daraja_failed_and_whose_result_is_lost_fails_by_the_transaction_status(
        live: LiveMpesa) -> None:
    await paid_takings(live)
    await payouts.set_account(live.sessions, ORGANISER, live.contest.id, payouts.AccountDraft(
        "mpesa", "Wanjiku Organiser", msisdn=REFUSING_WALLET, proven=True))
    live.control.mpesa_lose_results_next = 1
    payout = await approved_payout(live, 6000)
    assert await passes_until_settled(live, payouts_pass) == ["sent", "pending", "failed"]
    row = await payout_row(live, payout)
    assert row.state is PayoutState.FAILED and row.provider_reason and "Failed" in row.provider_reason


def forged_answer(status: str) -> dict[str, object]:
    return {"Result": {"ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed "
                       "successfully.", "OriginatorConversationID": "1-2-3", "ConversationID": "AG_X",
                       "TransactionID": "FORGED0001", "ResultParameters": {"ResultParameter": [
                           {"Key": "ReceiptNo", "Value": "FORGED0001"}, {"Key": "TransactionStatus", "Value": status},
                           {"Key": "Amount", "Value": "60"}, {"Key": "ReasonType", "Value": "forged"}]}}}


async def test_a_status_answer_without_the_payouts_secret_is_refused_and_decides_nothing(live: LiveMpesa) -> None:
    await paid_takings(live)
    live.control.mpesa_lose_results_next = 1
    payout = await approved_payout(live, 6000)
    providers, now = live.client.app[PROVIDERS], datetime.now(UTC)
    assert [turn.outcome for turn in await payouts_pass(live.sessions, providers, now)] == ["sent"]
    await asyncio.sleep(0.2)  # carried out, its Result lost
    live.control.success_delay = 60.0  # Daraja's answer to our query is a minute away
    now += timedelta(seconds=30)
    assert [turn.outcome for turn in await payouts_pass(live.sessions, providers, now)] == ["pending"]  # asked
    for key in ("?key=not-the-secret", ""):
        response = await live.client.post(f"/payments/mpesa/status/{payout.id}{key}", json=forged_answer("Failed"))
        assert response.status == 400 and (await response.json())["error"]["code"] == "bad_secret"
    later = [turn.outcome for turn in await payouts_pass(live.sessions, providers, now + timedelta(minutes=10))]
    assert later == ["pending"]  # its query asked again: nothing forged was taken
    row = await payout_row(live, payout)
    assert row.state is PayoutState.SENT and row.provider_txn_id is None


async def test_a_status_answer_nobody_awaits_is_not_kept(fake: respx.MockRouter, redis: Redis) -> None:
    """A copy of an answer that came after its query was settled (Daraja posts again), or one posted before any
    query: it could say "not found" of a payout Daraja has since carried out, and send it again."""
    fake_daraja(fake)
    sent = payout()
    results = OutgoingResults(redis)
    async with httpx.AsyncClient() as http:
        provider = money_out(http, redis, after=60.0)
        await provider.send_payout(sent)
        await results.keep_status(sent.reference, {"ResultType": 0, "ResultCode": "R000002",
                                                   "ResultDesc": "The OriginalTransactionID is invalid."})
        status = await provider.payout_status(sent)  # no query asked yet: the answer is nobody's
    assert (status.state, status.raw_status) == (PaymentState.PENDING, "accepted")
