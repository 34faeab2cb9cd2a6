"""Daraja's Transaction Status query at the wire (respx): what our client sends for a payout whose Result is late
(Safaricom's field names, our status URL with the reference's secret), that it asks once per wait and within the
app's request cap, and how the query's Result reads (completed, not found)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import respx
from cryptography.hazmat.primitives.asymmetric import rsa
from redis.asyncio import Redis

from gateway.core.providers import OutgoingPayout, PaymentState
from gateway.kit.paced_turns import PacedTurns
from payments.mpesa.api import DarajaApi, DarajaCredentials
from payments.mpesa.callback_secret import url_secret
from payments.mpesa.money_out import MpesaMoneyOut
from payments.mpesa.outgoing_results import OutgoingResults
from payments.mpesa.request_cap import DARAJA_CAP
from payments.paced_requests import PacedRequests
from tests.payments.mpesa.test_mpesa_security_credential import certificate_of

DARAJA = "https://api.daraja.example"
KEY = b"k" * 32


def fake_daraja(fake: respx.MockRouter) -> respx.Route:
    fake.get(f"{DARAJA}/oauth/v1/generate").respond(200, json={"access_token": "t", "expires_in": "3599"})
    fake.post(f"{DARAJA}/mpesa/b2c/v3/paymentrequest").mock(side_effect=lambda request: httpx.Response(200, json={
        "OriginatorConversationID": json.loads(request.content)["OriginatorConversationID"],
        "ConversationID": "AG_1", "ResponseCode": "0", "ResponseDescription": "Accept the service request "
                                                                              "successfully."}))
    return fake.post(f"{DARAJA}/mpesa/transactionstatus/v1/query").respond(200, json={
        "OriginatorConversationID": "1-2-3", "ConversationID": "AG_2", "ResponseCode": "0",
        "ResponseDescription": "Accept the service request successfully."})


def money_out(http: httpx.AsyncClient, redis: Redis, *, after: float,
              per_second: float | None = None) -> MpesaMoneyOut:
    requests = PacedRequests(http, "our-app", DARAJA_CAP, turns=PacedTurns(redis), per_second=per_second,
                             resend_delays=(0.1,))
    pem = certificate_of(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    async def certificate() -> bytes:
        return pem

    return MpesaMoneyOut(DarajaApi(requests, DarajaCredentials(DARAJA, "our-app", "secret")), OutgoingResults(redis),
                         initiator="ballot-api", password="Initiator-Pass-1", certificate=certificate,
                         shortcode="600000", public_base_url="https://vote.example", callback_key=KEY,
                         status_query_after=after)


def payout() -> OutgoingPayout:
    return OutgoingPayout(uuid.uuid4(), "+254712000123", 6000, "KES", "Contest takings")


def completed(receipt: str, amount: str) -> dict[str, object]:
    return {"ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
            "ResultParameters": {"ResultParameter": [
                {"Key": "ReceiptNo", "Value": receipt}, {"Key": "TransactionStatus", "Value": "Completed"},
                {"Key": "Amount", "Value": amount}]}}


async def test_a_late_result_is_asked_for_with_safaricoms_fields_once_per_wait(
        fake: respx.MockRouter, redis: Redis) -> None:
    queries = fake_daraja(fake)
    sent = payout()
    async with httpx.AsyncClient() as http:
        provider = money_out(http, redis, after=0.3)
        await provider.send_payout(sent)
        assert (await provider.payout_status(sent)).raw_status == "accepted"  # not late yet: nothing asked
        await asyncio.sleep(0.3)
        for _ in range(3):  # asked once; the next looks wait for its answer
            assert (await provider.payout_status(sent)).state is PaymentState.PENDING
    assert queries.call_count == 1
    body = json.loads(queries.calls[0].request.content)
    assert {name: body[name] for name in ("CommandID", "Initiator", "OriginalConversationID", "PartyA",
                                          "IdentifierType")} == {
        "CommandID": "TransactionStatusQuery", "Initiator": "ballot-api", "OriginalConversationID": str(sent.reference),
        "PartyA": "600000", "IdentifierType": "4"}
    assert body["SecurityCredential"] and body["Remarks"] and body["Occasion"] == str(sent.reference)
    url = urlsplit(body["ResultURL"])
    assert url.path == f"/payments/ke-mobile/status/{sent.reference}" and body["QueueTimeOutURL"] == body["ResultURL"]
    assert parse_qs(url.query)["key"] == [url_secret(KEY, sent.reference)]


async def test_the_querys_result_settles_a_payout_or_leaves_it_sent_never_paying_twice(
        fake: respx.MockRouter, redis: Redis) -> None:
    fake_daraja(fake)
    paid, missing = payout(), payout()
    results = OutgoingResults(redis)
    async with httpx.AsyncClient() as http:
        provider = money_out(http, redis, after=0.0)
        for sent in (paid, missing):
            await provider.send_payout(sent)
            await provider.payout_status(sent)  # the query goes out
        await results.keep_status(paid.reference, completed("SBC1234567", "60.00"))
        await results.keep_status(missing.reference, {"ResultType": 0, "ResultCode": "R000002",
                                                      "ResultDesc": "The OriginalTransactionID is invalid."})
        status = await provider.payout_status(paid)
        # Daraja took the payment in and its query cannot find it: never sent again (paid twice if Daraja did not
        # take each OriginatorConversationID once), still sent, asked after again at the next wait.
        unfound = await provider.payout_status(missing)
        asked_before = len(fake.calls)
        again = await provider.payout_status(missing)
    assert (status.state, status.amount, status.currency, status.provider_txn_id) == (
        PaymentState.SUCCESSFUL, 6000, "KES", "SBC1234567")
    assert (unfound.state, unfound.raw_status) == (PaymentState.PENDING, "status:not_found")
    assert again.state is PaymentState.PENDING and len(fake.calls) == asked_before + 1  # the query, once more
    assert not [call for call in fake.calls if call.request.url.path.endswith("/b2c/v3/paymentrequest")][2:]


async def test_queries_take_their_turns_under_the_apps_cap(fake: respx.MockRouter, redis: Redis) -> None:
    queries = fake_daraja(fake)
    sent = [payout() for _ in range(4)]
    async with httpx.AsyncClient() as http:
        provider = money_out(http, redis, after=0.0, per_second=4.0)
        for each in sent:
            await provider.send_payout(each)
        started = time.monotonic()
        for each in sent:
            await provider.payout_status(each)
        took = time.monotonic() - started
    assert queries.call_count == 4
    assert took > 0.8  # four queries at 90% of 4 a second: each on its own paced turn
