"""Orange's cap on an application's requests (25 a second, every API together), kept by our clients at the wire:
what a fake Orange (respx) saw in each second, and what a 403 with code 53 becomes."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
import respx
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from assembly.settings import Settings
from gateway.core.providers import Collection, PaymentState, ProviderRateLimited
from gateway.kit.paced_turns import PacedTurns
from payments.orange import OrangePush, OrangeWebPay, PushCredentials, WebPayCredentials
from tests.payments.capped_gateway import CappedGateway

ORANGE = "https://api.orange.example"
WEBPAY = f"{ORANGE}/orange-money-webpay/cm/v1"
CREDENTIALS = WebPayCredentials(ORANGE, f"{ORANGE}/oauth/v3/token", "our-app", "secret", "merchant", "cm")
TOO_MANY = {"code": 53, "message": "Too many requests", "description": "spike arrest limit"}


def collection() -> Collection:
    return Collection(order_id=uuid.uuid4(), reference=uuid.uuid4(), amount=500, currency="XAF",
                      msisdn="+237690000001", description="5 votes", channel="web")


class FakeOrange(CappedGateway):
    """Orange's token, WebPay and status endpoints, noting when each request came."""

    def __init__(self, router: respx.MockRouter) -> None:
        super().__init__(lambda: httpx.Response(403, json=TOO_MANY))
        self.state = "INITIATED"
        router.post(f"{ORANGE}/oauth/v3/token").mock(side_effect=self.answer(
            200, {"token_type": "Bearer", "access_token": "t", "expires_in": "7776000"}))
        router.post(f"{WEBPAY}/webpayment").mock(side_effect=self.answer(
            201, {"payment_url": "https://pay.example/p", "pay_token": "pt", "notif_token": "nt"}))
        router.post(f"{WEBPAY}/transactionstatus").mock(side_effect=self.answer(
            201, lambda: {"status": self.state, "txnid": "MP1"}))
        router.post(f"{ORANGE}/token").mock(side_effect=self.answer(200, {"access_token": "m", "expires_in": 3600}))
        router.post(url__regex=rf"{ORANGE}/omcoreapis/.*/mp/init").mock(side_effect=self.answer(
            200, {"data": {"payToken": "MP1"}}))



async def test_a_burst_from_two_processes_is_paced_under_oranges_cap_and_nothing_fails(
        fake: respx.MockRouter, redis: Redis, settings: Settings) -> None:
    orange = FakeOrange(fake)
    other_process = Redis.from_url(settings.redis_url or "")  # its own connections, as another process has
    async with httpx.AsyncClient() as http:
        here = OrangeWebPay(http, CREDENTIALS, "https://vote.example", turns=PacedTurns(redis))
        there = OrangeWebPay(http, CREDENTIALS, "https://vote.example", turns=PacedTurns(other_process))
        started = time.monotonic()
        starts = [provider.start(collection()) for provider in (here, there) for _ in range(20)]
        checks = [provider.fetch_status(replace_pages(collection())) for provider in (here, there) for _ in range(10)]
        pages, statuses = await asyncio.gather(asyncio.gather(*starts), asyncio.gather(*checks))  # 62 requests at once
        took = time.monotonic() - started
    await other_process.aclose()
    assert len(orange.seen) == 62  # a token each, 40 pages, 20 status calls
    assert all(page.redirect_url for page in pages)
    assert all(status.state is PaymentState.PENDING for status in statuses)
    assert orange.most_in_any_second() <= 25
    assert took > 2.0  # 62 requests at 90% of 25 a second, one schedule for both processes


async def test_a_403_code_53_is_sent_again_later_and_the_start_goes_through(fake: respx.MockRouter) -> None:
    orange = FakeOrange(fake)
    async with httpx.AsyncClient() as http:
        webpay = OrangeWebPay(http, CREDENTIALS, "https://vote.example", resend_delays=(0.3,))
        await webpay.start(collection())  # the token first
        orange.refusing = 1
        started = await webpay.start(collection())
    assert started.redirect_url == "https://pay.example/p"
    assert orange.seen[-1] - orange.seen[-2] >= 0.3  # Orange asks for a wait before the same request again


async def test_refused_on_every_try_is_slow_down_never_a_refusal_of_the_payment(fake: respx.MockRouter) -> None:
    orange = FakeOrange(fake)
    async with httpx.AsyncClient() as http:
        webpay = OrangeWebPay(http, CREDENTIALS, "https://vote.example", resend_delays=(0.05,))
        push = OrangePush(http, PushCredentials(ORANGE, "push-app", "secret", "user", "pass", "699000000", "1234"),
                          "https://vote.example", resend_delays=(0.05,))
        orange.refusing = 100
        for attempt in (webpay.start(collection()), webpay.fetch_status(replace_pages(collection())),
                        push.start(collection())):
            with pytest.raises(ProviderRateLimited) as caught:
                await attempt
            assert caught.value.retryable and caught.value.status == 403
        orange.refusing, orange.state = 0, "SUCCESS"
        assert (await webpay.fetch_status(replace_pages(collection()))).state is PaymentState.SUCCESSFUL


async def test_a_cap_of_0_lifts_the_pacing(fake: respx.MockRouter) -> None:
    orange = FakeOrange(fake)
    async with httpx.AsyncClient() as http:
        webpay = OrangeWebPay(http, CREDENTIALS, "https://vote.example", requests_per_second=0)
        await asyncio.gather(*(webpay.start(collection()) for _ in range(40)))
    assert orange.most_in_any_second() == 41


def gaps_between(times: list[float]) -> list[float]:
    """How far apart calls left, one after the other."""
    ordered = sorted(times)
    return [later - earlier for earlier, later in zip(ordered, ordered[1:], strict=False)]


def assert_spaced(times: list[float], turns: PacedTurns, schedule: str) -> None:
    """Calls at least 20 ms apart (a call leaves at most half its 50 ms spacing late, less the clock's jitter), but
    for a call a machine busy turn after turn made late to every turn it took, which goes at last off its turn (and
    the process says so): it may land near both its neighbours."""
    gaps = gaps_between(times)
    assert sum(gap < 0.02 for gap in gaps) <= 2 * turns.went_off_turn[schedule], (gaps, turns.went_off_turn)


def replace_pages(c: Collection) -> Collection:
    """An order whose page Orange opened."""
    page = {"order_id": f"{c.reference.hex}-1", "pay_token": "pt", "notif_token": "nt"}
    return Collection(**{**c.__dict__, "provider_data": {"attempt": 1, "pages": [page]}})


async def test_calls_a_stalled_process_held_back_leave_spaced_not_in_one_burst(redis: Redis) -> None:
    """The process stalls (a busy CPU) while twelve calls wait for their turns: they wake together, late, and
    would all go at once, a burst Orange's spike arrest refuses; they take new turns instead and leave spaced."""
    turns = PacedTurns(redis)
    left: list[float] = []

    async def call() -> None:
        await turns.wait("orange:stall-test", 20)  # a turn each 50 ms
        left.append(time.monotonic())

    calls = [asyncio.create_task(call()) for _ in range(12)]
    await asyncio.sleep(0.06)  # the first have gone; the rest sleep until their turns
    time.sleep(0.4)  # the loop stalled: the turns of some eight calls pass meanwhile
    await asyncio.gather(*calls)
    assert_spaced(left, turns, "orange:stall-test")


async def test_turns_whose_answers_a_stall_held_unread_are_taken_again_not_shifted_onto_others(
        redis: Redis, settings: Settings) -> None:
    """Redis has reserved six turns when the process stalls, before it reads their answers. Read late, each answer's
    wait would count from the stall's end: those six would leave late, on the turns others took meanwhile, two calls
    at once; they take new turns instead."""
    schedule = "orange:unread-answers-test"
    turns = PacedTurns(redis)
    left: list[float] = []

    async def call() -> None:
        await turns.wait(schedule, 20)  # a turn each 50 ms
        left.append(time.monotonic())

    first = [asyncio.create_task(call()) for _ in range(20)]  # turns over the next second
    while not left:  # the first has gone: all twenty have asked
        await asyncio.sleep(0.01)
    watcher = SyncRedis.from_url(settings.redis_url or "")
    before = int(watcher.get(schedule) or 0)
    second = [asyncio.create_task(call()) for _ in range(6)]
    deadline = time.monotonic() + 2
    while int(watcher.get(schedule) or 0) < before + 6 * 50 and time.monotonic() < deadline:
        await asyncio.sleep(0)  # the loop runs only until the six have asked: their answers wait on the sockets
    assert int(watcher.get(schedule) or 0) >= before + 6 * 50
    time.sleep(0.4)  # the loop stalls with six answers unread and some of the first calls' turns passing
    await asyncio.gather(*first, *second)
    watcher.close()
    assert_spaced(left, turns, schedule)
