"""MTN's Disbursement product, our client against the sandbox over real HTTP: a paid collection refunded once
however often the refund is sent (one reference), its status read back; a refund of more than was paid, of a
collection MTN never took, or with a Collection token, refused as MTN would; the balance drops by what went."""

from __future__ import annotations

import uuid

import httpx
import pytest
from aiohttp import test_utils

from gateway.core.providers import CollectionNotFound, OutgoingPayout, OutgoingRefund, PaymentState
from payments.mtn.api import MtnApi, MtnCredentials
from payments.mtn.callback_secret import QUERY_NAME, callback_key, secret_holds
from payments.mtn.disbursement import MtnDisbursement
from tests.payments import Receiver, poll
from tests.payments.mtn.test_mtn import collection as collection_of
from tests.payments.sandbox.mtn_sandbox import final_status, get_token, request_to_pay

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


@pytest.mark.parametrize(("payee", "state", "reason"), [
    ("+237670000123", PaymentState.SUCCESSFUL, None), ("+237670000455", PaymentState.FAILED, "PAYER_NOT_FOUND")])
async def test_a_transfer_to_a_wallet_goes_once_and_ends_as_its_payee_number_says(
        disbursement: MtnDisbursement, payee: str, state: PaymentState, reason: str | None) -> None:
    payout = OutgoingPayout(uuid.uuid4(), payee, 700, "XAF", "Ballot payout: Demo")
    before = await disbursement.balance("XAF")
    await disbursement.send_payout(payout)
    await disbursement.send_payout(payout)  # a retry after a lost answer: MTN's 409, taken as done
    done = await poll(lambda: disbursement.payout_status(payout), lambda s: s.state is not PaymentState.PENDING)
    assert (done.state, done.reason, done.amount) == (state, reason, 700)
    assert await disbursement.balance("XAF") == before - (700 if state is PaymentState.SUCCESSFUL else 0)


async def test_a_transfer_mtn_never_got_is_not_found_and_a_pending_payee_stays_pending(
        disbursement: MtnDisbursement) -> None:
    with pytest.raises(CollectionNotFound):
        await disbursement.payout_status(OutgoingPayout(uuid.uuid4(), "+237670000123", 1, "XAF", ""))
    stuck = OutgoingPayout(uuid.uuid4(), "+237670000453", 100, "XAF", "")  # MTN's "stays pending" payee
    await disbursement.send_payout(stuck)
    assert (await disbursement.payout_status(stuck)).state is PaymentState.PENDING


async def test_a_deposit_is_a_transfer_by_another_name(sandbox: test_utils.TestServer,
                                                       disbursement: MtnDisbursement) -> None:
    async with httpx.AsyncClient(base_url=str(sandbox.make_url(SANDBOX))) as http:
        token = (await http.post("/disbursement/token/", auth=("payout-user", "payout-key"),
                                 headers={"Ocp-Apim-Subscription-Key": "disbursement-key"})).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "X-Target-Environment": "mtncameroon",
                   "Ocp-Apim-Subscription-Key": "disbursement-key"}
        reference = str(uuid.uuid4())
        sent = await http.post("/disbursement/v2_0/deposit", headers={**headers, "X-Reference-Id": reference}, json={
            "amount": "250", "currency": "XAF", "externalId": "d1", "payee": {"partyIdType": "MSISDN",
                                                                              "partyId": "237670000123"}})
        assert sent.status_code == 202, sent.text
        status = await poll(lambda: http.get(f"/disbursement/v1_0/deposit/{reference}", headers=headers),
                            lambda r: r.json()["status"] != "PENDING")
    assert status.json()["status"] == "SUCCESSFUL" and status.json()["amount"] == "250"


async def test_mtn_calls_back_on_a_url_carrying_the_transfers_secret(
        sandbox: test_utils.TestServer, http: httpx.AsyncClient, receiver: Receiver) -> None:
    key = callback_key("a secret key of this test")
    credentials = MtnCredentials(str(sandbox.make_url(SANDBOX)), "disbursement-key", "payout-user", "payout-key",
                                 "mtncameroon")
    told = MtnDisbursement(MtnApi(http, credentials, "disbursement", retry_delays=(0.01,)), receiver.url(""), key)
    payout = OutgoingPayout(uuid.uuid4(), "+237670000123", 300, "XAF", "Ballot payout: Demo")
    await told.send_payout(payout)
    [callback] = await receiver.wait_for(f"/payments/mtn/disbursement/{payout.reference}")
    assert callback.method == "PUT" and callback.body["status"] == "SUCCESSFUL"
    assert secret_holds(key, payout.reference, callback.query.get(QUERY_NAME))
