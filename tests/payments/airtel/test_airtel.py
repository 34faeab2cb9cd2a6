"""Airtel Money's Collection API, faked at the wire with respx: what Airtel receives, how its answers and callbacks are
read, and that a push is never sent twice blind."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from assembly.resources.providers import build_providers
from assembly.settings import ConfigError, Environment, Settings, check_production
from gateway.core.providers import (
    CallbackRejected,
    Collection,
    CollectionNotFound,
    InboundCallback,
    PaymentError,
    PaymentState,
    ProviderRateLimited,
)
from gateway.kit.outbound_tls import verified_tls
from payments.airtel.api import AirtelApi, AirtelCredentials
from payments.airtel.callback_hash import callback_hash
from payments.airtel.collection import SENT, AirtelCollection
from tests.factories import TEST_RESULTS_KEY
from tests.payments.ussd_orders import ussd_collection

BASE = "https://openapi.airtel.test"
TOKEN = {"access_token": "tok-1", "expires_in": "7200", "token_type": "bearer"}
KEY = "the-application-callback-key"
IN_PROCESS = {"data": {"transaction": {"id": "x", "status": "Success."}},
              "status": {"code": "200", "message": "In process", "result_code": "ESB000010",
                         "response_code": "DP00800001006", "success": True}}


def collection(**changes: object) -> Collection:
    return ussd_collection(changes, amount=2500, currency="UGX", msisdn="+256700000001")


def enquiry(status: str, code: str = "DP00800001001", **extra: object) -> dict[str, object]:
    return {"data": {"transaction": {"id": "x", "status": status, "airtel_money_id": "MP210603", **extra}},
            "status": {"code": "200", "message": "x", "result_code": "ESB000010", "response_code": code,
                       "success": True}}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(verify=verified_tls()) as client:
        yield client


def airtel(http: httpx.AsyncClient, key: str | None = KEY, per_second: float | None = None) -> AirtelCollection:
    api = AirtelApi(http, AirtelCredentials(BASE, "client-1", "secret-1"), per_second=per_second,
                    retry_delays=(0.01, 0.01))
    return AirtelCollection(api, key)


@respx.mock
async def test_the_push_carries_airtels_shape_and_our_order_as_its_id(http: httpx.AsyncClient) -> None:
    token = respx.post(f"{BASE}/auth/oauth2/token").respond(200, json=TOKEN)
    push = respx.post(f"{BASE}/merchant/v1/payments/").respond(200, json=IN_PROCESS)
    c = collection()
    result = await airtel(http).start(c)
    await airtel(http).start(collection(currency="KES", amount=1050, msisdn="+254733000001"))
    assert result.provider_data == {SENT: c.order_id.hex}
    assert json.loads(token.calls[0].request.content) == {
        "client_id": "client-1", "client_secret": "secret-1", "grant_type": "client_credentials"}
    sent = push.calls[0].request
    assert (sent.headers["X-Country"], sent.headers["X-Currency"]) == ("UG", "UGX")
    assert sent.headers["Authorization"] == "Bearer tok-1"
    body = json.loads(sent.content)
    assert body["subscriber"] == {"country": "UG", "currency": "UGX", "msisdn": "700000001"}  # no country code
    assert body["transaction"] == {"amount": 2500, "country": "UG", "currency": "UGX", "id": c.order_id.hex}
    kenyan = json.loads(push.calls[1].request.content)
    assert kenyan["transaction"]["amount"] == 10.5 and push.calls[1].request.headers["X-Country"] == "KE"


@respx.mock
async def test_a_push_whose_answer_was_lost_is_asked_about_never_sent_again_blind(http: httpx.AsyncClient) -> None:
    respx.post(f"{BASE}/auth/oauth2/token").respond(200, json=TOKEN)
    c = collection()
    push = respx.post(f"{BASE}/merchant/v1/payments/").mock(side_effect=httpx.ReadTimeout("lost"))
    asked = respx.get(f"{BASE}/standard/v1/payments/{c.order_id.hex}").respond(200, json=enquiry("TIP"))
    kept: list[object] = []

    async def remember(data: object) -> None:
        kept.append(data)

    await airtel(http).start(Collection(**{**c.__dict__, "remember": remember}))
    assert push.call_count == 1 and asked.call_count == 1 and kept == [{SENT: c.order_id.hex}]
    await airtel(http).start(Collection(**{**c.__dict__, "provider_data": {SENT: c.order_id.hex}}))
    assert push.call_count == 1  # a start that finds it sent asks Airtel first: the prompt is out already


@respx.mock
async def test_a_lost_push_airtel_never_got_is_retried_later_with_the_same_id(http: httpx.AsyncClient) -> None:
    respx.post(f"{BASE}/auth/oauth2/token").respond(200, json=TOKEN)
    c = collection()
    push = respx.post(f"{BASE}/merchant/v1/payments/").mock(side_effect=[httpx.ReadTimeout("lost"),
                                                                       httpx.Response(200, json=IN_PROCESS)])
    respx.get(f"{BASE}/standard/v1/payments/{c.order_id.hex}").respond(
        404, json={"status": {"code": "404", "response_code": "DP00800001025", "success": False}})
    with pytest.raises(PaymentError) as lost:
        await airtel(http).start(c)
    assert lost.value.retryable
    await airtel(http).start(Collection(**{**c.__dict__, "provider_data": {SENT: c.order_id.hex}}))
    assert [json.loads(call.request.content)["transaction"]["id"] for call in push.calls] == [c.order_id.hex] * 2


@respx.mock
async def test_a_rate_limited_request_is_sent_again_and_slow_down_is_never_a_refusal(http: httpx.AsyncClient) -> None:
    respx.post(f"{BASE}/auth/oauth2/token").respond(200, json=TOKEN)
    too_many = httpx.Response(429, json={"error": "too_many_requests"})
    push = respx.post(f"{BASE}/merchant/v1/payments/").mock(
        side_effect=[too_many, httpx.Response(200, json=IN_PROCESS)])
    await airtel(http).start(collection())
    assert push.call_count == 2
    c = collection()
    respx.get(f"{BASE}/standard/v1/payments/{c.order_id.hex}").mock(return_value=too_many)
    with pytest.raises(ProviderRateLimited) as slowed:
        await airtel(http).fetch_status(c)
    assert slowed.value.retryable


async def test_every_request_of_the_application_waits_its_turn_under_the_cap(http: httpx.AsyncClient) -> None:
    seen: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(time.monotonic())
        return httpx.Response(200, json=TOKEN if request.url.path.endswith("token") else enquiry("TIP"))

    with respx.mock(base_url=BASE) as wire:
        wire.route().mock(side_effect=answer)
        provider = airtel(http, per_second=20.0)  # 18 a second on our schedule: 55 ms apart
        for _ in range(5):
            await provider.fetch_status(collection())
    # The token's request took its turn too. Six turns 55 ms apart: none leaves before its turn, the first may
    # leave late (up to half a turn, else it takes a new one), so a busy loop can bring two close but never the
    # six within less than four and a half turns.
    assert len(seen) == 6 and seen[-1] - seen[0] >= 4.5 / 18


@pytest.mark.parametrize(("answer", "state", "amount", "reason"), [
    (enquiry("TS"), PaymentState.SUCCESSFUL, 2500, None),  # no amount named: the push's own
    (enquiry("TS", amount="2000", currency="UGX"), PaymentState.SUCCESSFUL, 2000, None),  # named: flagged by the core
    (enquiry("TF", "DP00800001007"), PaymentState.FAILED, None, "NOT_ENOUGH_FUNDS"),
    (enquiry("TF", "DP00800001002"), PaymentState.FAILED, None, "WRONG_PIN"),
    (enquiry("TF", "DP00800001999"), PaymentState.FAILED, None, "INTERNAL_PROCESSING_ERROR"),
    (enquiry("TE", "DP00800001029"), PaymentState.EXPIRED, None, "EXPIRED"),
    (enquiry("TA", "DP00800001000"), PaymentState.PENDING, None, None),
    (enquiry("TIP", "DP00800001006"), PaymentState.PENDING, None, None),
])
@respx.mock
async def test_an_enquiry_is_read_into_our_states(http: httpx.AsyncClient, answer: dict[str, object],
                                                  state: PaymentState, amount: int | None, reason: str | None) -> None:
    respx.post(f"{BASE}/auth/oauth2/token").respond(200, json=TOKEN)
    c = collection()
    respx.get(f"{BASE}/standard/v1/payments/{c.order_id.hex}").respond(200, json=answer)
    status = await airtel(http).fetch_status(c)
    assert (status.state, status.amount, status.reason) == (state, amount, reason)


@pytest.mark.parametrize("answer", [
    httpx.Response(404, json={"status": {"code": "404", "response_code": "DP00800001025", "success": False}}),
    httpx.Response(200, json={"data": None, "status": {"response_code": "DP00800001025", "success": False}}),
])
@respx.mock
async def test_a_transaction_airtel_never_got_is_not_found(http: httpx.AsyncClient, answer: httpx.Response) -> None:
    respx.post(f"{BASE}/auth/oauth2/token").respond(200, json=TOKEN)
    c = collection()
    respx.get(f"{BASE}/standard/v1/payments/{c.order_id.hex}").mock(return_value=answer)
    with pytest.raises(CollectionNotFound):
        await airtel(http).fetch_status(c)


@respx.mock
async def test_a_refused_push_fails_with_what_the_voter_is_told_and_is_not_retried(http: httpx.AsyncClient) -> None:
    respx.post(f"{BASE}/auth/oauth2/token").respond(200, json=TOKEN)
    push = respx.post(f"{BASE}/merchant/v1/payments/").respond(400, json={"status": {
        "code": "400", "message": "Payee not permitted", "response_code": "DP00800001010", "success": False}})
    with pytest.raises(PaymentError) as refused:
        await airtel(http).start(collection())
    assert refused.value.code == "PAYER_NOT_FOUND" and not refused.value.retryable and push.call_count == 1
    assert refused.value.message == "This number has no mobile-money account. (PAYER_NOT_FOUND)"  # kept by the order


def callback_of(c: Collection, status_code: str, key: str | None = KEY, **changes: object) -> InboundCallback:
    record = {"id": c.order_id.hex, "message": "Paid UGX 2,500", "status_code": status_code,
              "airtel_money_id": "MP210603.1234.L06941"}
    body: dict[str, object] = {"transaction": record}
    if key is not None:
        body["hash"] = callback_hash(key, record)
    body.update(changes)
    return InboundCallback(c.order_id, {}, json.dumps(body).encode())


async def test_only_a_hashed_ts_callback_is_proof(http: httpx.AsyncClient) -> None:
    c = collection()
    proof = await airtel(http).verify_callback(callback_of(c, "TS"), c)
    assert proof.status is not None and proof.verify_later and proof.kind == "callback.ts"
    assert (proof.status.state, proof.status.amount, proof.status.currency) == (PaymentState.SUCCESSFUL, 2500, "UGX")
    assert proof.status.provider_txn_id == "MP210603.1234.L06941"
    failed = await airtel(http).verify_callback(callback_of(c, "TF"), c)
    assert failed.status is None and failed.kind == "callback.tf"  # a failure is the enquiry's to say
    unkeyed = await airtel(http, key=None).verify_callback(callback_of(c, "TS", key=None), c)
    assert unkeyed.status is None  # no callback authentication here: the enquiry decides
    for forged in (callback_of(c, "TS", key="not-the-key"), callback_of(c, "TS", key=None)):
        with pytest.raises(CallbackRejected):
            await airtel(http).verify_callback(forged, c)
    garbage = await airtel(http).verify_callback(InboundCallback(c.order_id, {}, b"\xff{"), c)
    assert garbage.status is None and garbage.kind == "callback.unparseable"


LIVE_AIRTEL = {"airtel_money_base_url": "https://openapi.airtel.africa", "airtel_money_client_id": "client-1",
               "airtel_money_client_secret": "Vb7Qn2Lx9Rk4Mz8T", "airtel_money_callback_key": "Hk3Pw8Zr5Tn1Qy7D",
               "sandbox_enabled": False}


def production(**changes: object) -> Settings:
    base = {"gateway_env": Environment.PRODUCTION, "secret_key": "x4Vq9-LmT2rZ8bWn_K3sJ7dHf0Yc6GpE1uAoNiRt",
            "database_url": "postgresql://db/x", "redis_url": "redis://r/0", "public_base_url": "https://vote.example",
            "results_signing_key": TEST_RESULTS_KEY, "media_upload_url": "https://media.example",
            "media_files_url": "https://media.example"}
    return Settings(_env_file=None, **{**base, **LIVE_AIRTEL, **changes})


@pytest.mark.parametrize(("changes", "problem"), [
    ({"airtel_money_base_url": "https://openapiuat.airtel.africa"}, "Airtel's test system"),
    ({"airtel_money_base_url": "http://openapi.airtel.africa"}, "must be an https:// address"),
    ({"airtel_money_client_secret": "secret"}, "AIRTEL_MONEY_CLIENT_SECRET"),
    ({"airtel_money_client_id": None}, "AIRTEL_MONEY_CLIENT_ID unset"),
    ({"airtel_money_callback_key": None}, "AIRTEL_MONEY_CALLBACK_KEY unset"),  # anyone's callbacks then look alike
    ({"airtel_money_callback_key": "key"}, "AIRTEL_MONEY_CALLBACK_KEY must be at least"),
])
def test_production_refuses_an_airtel_that_is_not_its_live_system_or_lacks_credentials(
        changes: dict[str, object], problem: str) -> None:
    check_production(production(), {"airtel"})  # the live system, real-looking credentials: it starts
    with pytest.raises(ConfigError, match=re.escape(problem)):
        check_production(production(**changes), {"airtel"})


def test_production_takes_unhashed_callbacks_only_when_told_to_and_only_with_airtels_credentials() -> None:
    check_production(production(airtel_money_callback_key=None, airtel_money_unhashed_callbacks=True), {"airtel"})
    unconfigured = {"airtel_money_base_url": None, "airtel_money_client_id": None, "airtel_money_client_secret": None,
                    "airtel_money_callback_key": None}
    check_production(production(**unconfigured), set())  # no Airtel here: nothing of it is asked for
    with pytest.raises(ConfigError, match="AIRTEL_MONEY_CALLBACK_KEY unset"):
        check_production(production(airtel_money_callback_key=None), set())  # offered to contests made later


async def test_production_offers_airtel_on_its_own_credentials_and_never_on_the_sandbox(
        http: httpx.AsyncClient) -> None:
    assert build_providers(production(), http).offers("airtel")
    assert not build_providers(production(airtel_money_client_secret=None), http).offers("airtel")


@respx.mock
async def test_a_push_the_gateway_refuses_for_its_form_is_not_blamed_on_the_payer(http: httpx.AsyncClient) -> None:
    respx.post(f"{BASE}/auth/oauth2/token").respond(200, json=TOKEN)
    respx.post(f"{BASE}/merchant/v1/payments/").respond(400, json={"status": {
        "code": "400", "message": "Invalid request", "result_code": "ESB000008", "success": False}})
    with pytest.raises(PaymentError) as refused:
        await airtel(http).start(collection())
    assert refused.value.code == "ESB000008" and not refused.value.retryable  # no reason the voter is told
