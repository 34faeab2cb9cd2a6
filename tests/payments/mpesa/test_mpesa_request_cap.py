"""Daraja's cap on an app's requests, kept by our client at the wire: what a fake Daraja (respx) saw in each second
from two processes sharing one schedule, what a 429 becomes, and that a second prompt is never resent blindly."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
import respx
from redis.asyncio import Redis

from assembly.settings import Settings
from gateway.core.providers import Collection, PaymentError, PaymentState, ProviderRateLimited
from gateway.kit.paced_turns import PacedTurns
from payments.mpesa.api import DarajaApi, DarajaCredentials
from payments.mpesa.request_cap import DARAJA_CAP
from payments.mpesa.stk_push import MpesaStkPush
from payments.paced_requests import PacedRequests
from tests.payments.capped_gateway import CappedGateway

DARAJA = "https://api.daraja.example"


def collection() -> Collection:
    return Collection(order_id=uuid.uuid4(), reference=uuid.uuid4(), amount=5000, currency="KES",
                      msisdn="+254712000001", description="5 votes", channel="web")


class FakeDaraja(CappedGateway):
    def __init__(self, router: respx.MockRouter) -> None:
        super().__init__(lambda: httpx.Response(429, json={"errorCode": "429.001.01",
                                                           "errorMessage": "Spike arrest violation"}))
        router.get(f"{DARAJA}/oauth/v1/generate").mock(side_effect=self.answer(
            200, lambda: {"access_token": "t", "expires_in": "3599"}))
        router.post(f"{DARAJA}/mpesa/stkpush/v1/processrequest").mock(side_effect=self.answer(
            200, lambda: {"MerchantRequestID": "m", "CheckoutRequestID": f"ws_CO_{uuid.uuid4().hex}",
                          "ResponseCode": "0", "ResponseDescription": "Success. Request accepted for processing"}))
        router.post(f"{DARAJA}/mpesa/stkpushquery/v1/query").mock(side_effect=self.answer(
            500, lambda: {"errorCode": "500.001.1001", "errorMessage": "The transaction is being processed"}))



def push(http: httpx.AsyncClient, turns: PacedTurns | None = None, per_second: float | None = 10.0,
         resend_delays: tuple[float, ...] = (1.0, 2.0)) -> MpesaStkPush:
    requests = PacedRequests(http, "our-app", DARAJA_CAP, turns=turns, per_second=per_second,
                             resend_delays=resend_delays)
    api = DarajaApi(requests, DarajaCredentials(DARAJA, "our-app", "secret"))
    return MpesaStkPush(api, "174379", "passkey", "https://vote.example", b"k" * 32)


async def test_prompts_and_queries_of_two_processes_stay_under_the_apps_cap(
        fake: respx.MockRouter, redis: Redis, settings: Settings) -> None:
    daraja = FakeDaraja(fake)
    other_process = Redis.from_url(settings.redis_url or "")
    async with httpx.AsyncClient() as http:
        here, there = push(http, PacedTurns(redis)), push(http, PacedTurns(other_process))
        started = time.monotonic()
        prompts = await asyncio.gather(*(provider.start(collection()) for provider in (here, there) for _ in range(8)))
        queries = await asyncio.gather(*(provider.fetch_status(Collection(**{
            **collection().__dict__, "provider_data": dict(prompt.provider_data)})) for provider, prompt in
            zip((here, there) * 4, prompts, strict=False)))
        took = time.monotonic() - started
    await other_process.aclose()
    assert len(daraja.seen) == 26  # a token each, 16 prompts, 8 queries
    assert all(status.state is PaymentState.PENDING for status in queries)  # "being processed": still open
    assert daraja.most_in_any_second() <= 10
    assert took > 2.0  # 26 requests at 90% of 10 a second, one schedule for both processes


async def test_a_429_is_sent_again_later_and_the_prompt_goes_out_once(fake: respx.MockRouter) -> None:
    daraja = FakeDaraja(fake)
    async with httpx.AsyncClient() as http:
        provider = push(http, per_second=None, resend_delays=(0.2,))
        await provider.fetch_status(Collection(**{**collection().__dict__, "provider_data": {
            "checkout_request_id": "ws_CO_1"}}))  # the token first
        daraja.refusing = 1
        started = await provider.start(collection())
    assert str(started.provider_data["checkout_request_id"]).startswith("ws_CO_")
    prompts = daraja.seen[2:]
    assert len(prompts) == 2 and prompts[1] - prompts[0] >= 0.2  # refused, then sent again after the wait


async def test_refused_on_every_try_is_slow_down_never_a_refusal_of_the_payment(fake: respx.MockRouter) -> None:
    daraja = FakeDaraja(fake)
    async with httpx.AsyncClient() as http:
        provider = push(http, per_second=None, resend_delays=(0.01,))
        daraja.refusing = 100
        with pytest.raises(ProviderRateLimited) as caught:
            await provider.start(collection())
    assert caught.value.retryable


async def test_a_prompt_whose_answer_was_lost_is_not_pushed_again_blindly(fake: respx.MockRouter) -> None:
    """Daraja knows no reference of ours: a lost answer is retryable, and the next start of the order meets the
    prompt still open on the phone (500.001.1001) rather than a second prompt."""
    fake.get(f"{DARAJA}/oauth/v1/generate").respond(200, json={"access_token": "t", "expires_in": "3599"})
    sent = fake.post(f"{DARAJA}/mpesa/stkpush/v1/processrequest").mock(side_effect=[
        httpx.ReadTimeout("no answer"), httpx.Response(500, json={
            "errorCode": "500.001.1001", "errorMessage": "Unable to lock subscriber, a transaction is already in "
                                                        "process for the current subscriber"})])
    async with httpx.AsyncClient() as http:
        provider = push(http, per_second=None)
        for code in ("unreachable", "PROMPT_PENDING"):
            with pytest.raises(PaymentError) as caught:
                await provider.start(collection())
            assert caught.value.retryable and caught.value.code == code
    assert sent.call_count == 2
    assert "finish it first" in caught.value.message
