"""MTN's Disbursement product, our client against the sandbox over real HTTP: a paid collection refunded once
however often the refund is sent (one reference), its status read back; a refund of more than was paid, of a
collection MTN never took, or with a Collection token, refused as MTN would; the balance drops by what went."""

from __future__ import annotations

import uuid

import httpx
import pytest
from aiohttp import test_utils

from gateway.core.providers import CollectionNotFound, OutgoingRefund, PaymentState
from payments.mtn.api import MtnApi, MtnCredentials
from payments.mtn.disbursement import MtnDisbursement
from tests.payments import poll
from tests.payments.mtn_sandbox import final_status, get_token, request_to_pay
from tests.payments.test_mtn import collection as collection_of

SANDBOX = "/mtn"


@pytest.fixture
def disbursement(sandbox: test_utils.TestServer, http: httpx.AsyncClient) -> MtnDisbursement:
    credentials = MtnCredentials(str(sandbox.make_url(SANDBOX)), "disbursement-key", "payout-user", "payout-key",
                                 "mtncameroon")
    return MtnDisbursement(MtnApi(http, credentials, "disbursement", retry_delays=(0.01,)))


async def paid_collection(http: httpx.AsyncClient) -> uuid.UUID:
    token = await get_token(http)
    reference, answer = await request_to_pay(http, token)
    assert answer.status_code == 202
    assert (await final_status(http, token, reference))["status"] == "SUCCESSFUL"
    return uuid.UUID(reference)


def refund_of(collected: uuid.UUID, amount: int = 500) -> OutgoingRefund:
    return OutgoingRefund(uuid.uuid4(), collection_of(reference=collected, amount=500), amount, "XAF")


async def test_a_paid_collection_is_refunded_once_however_often_the_refund_is_sent(
        http: httpx.AsyncClient, disbursement: MtnDisbursement) -> None:
    refund = refund_of(await paid_collection(http))
    before = await disbursement.balance("XAF")
    await disbursement.send_refund(refund)
    await disbursement.send_refund(refund)  # a retry after a lost answer: MTN's 409, taken as done
    done = await poll(lambda: disbursement.refund_status(refund), lambda s: s.state is not PaymentState.PENDING)
    assert done.state is PaymentState.SUCCESSFUL and done.amount == 500 and done.provider_txn_id
    assert await disbursement.balance("XAF") == before - 500  # paid out once


async def test_refunds_past_what_was_paid_or_of_nothing_fail_and_an_unknown_one_is_not_found(
        http: httpx.AsyncClient, disbursement: MtnDisbursement) -> None:
    collected = await paid_collection(http)
    await disbursement.send_refund(first := refund_of(collected, 300))
    await disbursement.send_refund(too_much := refund_of(collected, 300))  # 600 of 500
    await disbursement.send_refund(of_nothing := refund_of(uuid.uuid4()))
    for refund, reason in ((too_much, "NOT_ENOUGH_FUNDS"), (of_nothing, "RESOURCE_NOT_FOUND")):
        failed = await poll(lambda r=refund: disbursement.refund_status(r),
                            lambda s: s.state is not PaymentState.PENDING)
        assert (failed.state, failed.reason) == (PaymentState.FAILED, reason)
    assert (await disbursement.refund_status(first)).state is not PaymentState.FAILED
    with pytest.raises(CollectionNotFound):
        await disbursement.refund_status(refund_of(collected))  # never sent


async def test_a_collection_token_opens_no_disbursement(http: httpx.AsyncClient) -> None:
    token = await get_token(http)  # the Collection product's
    answer = await http.post("/disbursement/v1_0/refund", headers={
        "Authorization": f"Bearer {token}", "Ocp-Apim-Subscription-Key": "k", "X-Target-Environment": "sandbox",
        "X-Reference-Id": str(uuid.uuid4())}, json={})
    assert answer.status_code == 401
