"""Daraja's Pull Transactions read at the wire (respx), leniently where Safaricom documents no shape: every page by
its row offset until ResponseCode 1001, the list under `Response` or `Transaction` however deep, amounts as numbers
or strings; a reversal, a row outside the range asked and a bill reference not ours are read as such; a refusal is a
PaymentError, not an empty day."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from gateway.core.providers import PaymentError, ProviderCharge
from payments.mpesa.api import DarajaApi, DarajaCredentials
from payments.mpesa.pull_transactions import PullTransactions
from payments.mpesa.request_cap import DARAJA_CAP
from payments.paced_requests import PacedRequests

DARAJA = "https://daraja.test"
START = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def daraja(http: httpx.AsyncClient) -> DarajaApi:
    requests = PacedRequests(http, "our-app", DARAJA_CAP, turns=None, per_second=None, resend_delays=())
    return DarajaApi(requests, DarajaCredentials(DARAJA, "our-app", "secret"))


def row(receipt: str, hours: float, amount: object, bill: str = "0123456789AB",
        kind: str = "c2b-pay-bill-debit") -> dict[str, object]:
    at = (START + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"transactionId": receipt, "trxDate": at, "msisdn": 722000000, "transactiontype": kind,
            "billreference": bill, "amount": amount, "organizationname": "Ballot"}


async def test_every_page_is_read_and_each_row_read_as_safaricom_writes_it() -> None:
    pages = [
        {"ResponseCode": "1000", "ResponseMessage": "Success", "Response": [[
            row("RCPT000001", 1, 233.0), row("RCPT000002", 2, "50.00", bill="WANJIKU")]]},
        {"ResponseCode": "1000", "ResponseMessage": "Success", "Transaction": [
            row("RCPT000003", 3, 10, kind="c2b-reversal"), [row("RCPT000004", 30, 10), row("RCPT000005", 4, "12.5")]]},
        {"ResponseCode": "1001", "ResponseMessage": "No transactions", "Transaction": "[[]]"},
    ]
    async with respx.mock(assert_all_called=True) as fake, httpx.AsyncClient() as http:
        fake.get(f"{DARAJA}/oauth/v1/generate").respond(200, json={"access_token": "t", "expires_in": "3599"})
        query = fake.post(f"{DARAJA}/pulltransactions/v1/query").mock(
            side_effect=[httpx.Response(200, json=page) for page in pages])
        api = daraja(http)
        charges = await PullTransactions(api, "600000").charges_between(START, START + timedelta(days=1))
    offsets = [json.loads(call.request.content)["OffSetValue"] for call in query.calls]
    assert offsets == ["0", "2", "5"]  # rows, not pages
    first = json.loads(query.calls[0].request.content)
    assert first["ShortCode"] == "600000" and first["StartDate"].endswith(":00:00")  # Nairobi's time, 3 h early
    assert charges == [ProviderCharge("RCPT000001", None, 23_300, "KES", reference_prefix="0123456789ab"),
                       ProviderCharge("RCPT000002", None, 5_000, "KES"),
                       ProviderCharge("RCPT000005", None, 1_250, "KES", reference_prefix="0123456789ab")]
    # the reversal and the next day's payment are not the day's payments


async def test_a_refusal_is_an_error_not_an_empty_day() -> None:
    async with respx.mock() as fake, httpx.AsyncClient() as http:
        fake.get(f"{DARAJA}/oauth/v1/generate").respond(200, json={"access_token": "t", "expires_in": "3599"})
        fake.post(f"{DARAJA}/pulltransactions/v1/query").respond(400, json={
            "requestId": "1", "errorCode": "400.001", "errorMessage": "Invalid ShortCode"})
        api = daraja(http)
        with pytest.raises(PaymentError, match="Invalid ShortCode"):
            await PullTransactions(api, "600000").charges_between(START, START + timedelta(days=1))
