"""One OAuth token cache for MTN and Orange: a token is asked for once however many calls need it, kept
until a minute before it expires, and `expires_in` is read alike whatever shape the provider sends."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
import respx

from gateway.core.providers import Collection, PaymentError
from payments.mtn import MtnMomoCollection
from payments.mtn.api import MtnCredentials
from payments.orange import OrangePush, PushCredentials
from payments.token_cache import DEFAULT_LIFETIME, IssuedToken, TokenCache, lifetime_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TokenEndpoint:
    """A provider's token endpoint as the cache sees it: every call issues a new token."""

    def __init__(self, expires_in: object = 3600, fails: bool = False) -> None:
        self.expires_in, self.fails, self.calls = expires_in, fails, 0

    async def __call__(self) -> IssuedToken:
        self.calls += 1
        await asyncio.sleep(0.01)  # long enough for concurrent callers to pile up behind it
        if self.fails:
            raise PaymentError("mtn", "unreachable", "token endpoint did not answer", retryable=True)
        return IssuedToken(f"tok-{self.calls}", self.expires_in)


@pytest.mark.parametrize(("expires_in", "seconds"), [
    (3600, 3600), (3600.0, 3600), ("3600", 3600), ("3600.0", 3600), (" 7776000 ", 7776000), ("90.5", 90.5),
    (None, DEFAULT_LIFETIME), ("soon", DEFAULT_LIFETIME), ("", DEFAULT_LIFETIME), ("nan", DEFAULT_LIFETIME),
    ("inf", DEFAULT_LIFETIME), (True, DEFAULT_LIFETIME), ([3600], DEFAULT_LIFETIME), (-5, 0), ("-5", 0)])
def test_expires_in_is_read_as_a_number_or_a_numeric_string(expires_in: object, seconds: float) -> None:
    assert lifetime_seconds(expires_in) == seconds


async def test_a_token_is_kept_until_a_minute_before_it_expires() -> None:
    clock, endpoint = Clock(), TokenEndpoint(expires_in="3600")
    cache = TokenCache(endpoint, clock=clock)
    assert await cache.get() == "tok-1"
    clock.now += 3539
    assert await cache.get() == "tok-1"
    clock.now += 1
    assert await cache.get() == "tok-2" and endpoint.calls == 2


async def test_concurrent_callers_share_one_fetch() -> None:
    endpoint = TokenEndpoint()
    cache = TokenCache(endpoint)
    assert set(await asyncio.gather(*(cache.get() for _ in range(20)))) == {"tok-1"}
    # A 401 seen by many calls at once: one new token for all of them, not one each.
    assert set(await asyncio.gather(*(cache.get(stale="tok-1") for _ in range(20)))) == {"tok-2"}
    assert endpoint.calls == 2


async def test_a_failed_fetch_reaches_its_caller_and_the_next_call_asks_again() -> None:
    endpoint = TokenEndpoint(fails=True)
    cache = TokenCache(endpoint)
    for _ in range(2):
        with pytest.raises(PaymentError):
            await cache.get()
    endpoint.fails = False
    assert await cache.get() == "tok-3"


# Both providers on the wire: the same `expires_in` shapes, the same number of token requests.

MTN = "https://momo.test"
ORANGE = "https://orange.test"


def collection() -> Collection:
    return Collection(order_id=uuid.uuid4(), reference=uuid.uuid4(), amount=500, currency="XAF",
                      msisdn="+237670000001", description="5 votes", channel="ussd",
                      provider_data={"pay_token": "MP-1"})


StatusCall = Callable[[], Awaitable[object]]


def mtn_status(http: httpx.AsyncClient, expires_in: object) -> tuple[respx.Route, StatusCall]:
    token = respx.post(f"{MTN}/collection/token/").respond(200, json={"access_token": "t", "expires_in": expires_in})
    respx.get(url__regex=rf"{MTN}/collection/v1_0/requesttopay/.+").respond(200, json={"status": "PENDING"})
    mtn = MtnMomoCollection(http, MtnCredentials(MTN, "sub-key", "user", "key", "sandbox"), "https://vote.example")
    return token, lambda: mtn.fetch_status(collection())


def orange_status(http: httpx.AsyncClient, expires_in: object) -> tuple[respx.Route, StatusCall]:
    token = respx.post(f"{ORANGE}/token").respond(200, json={"access_token": "t", "expires_in": expires_in})
    respx.get(url__regex=rf"{ORANGE}/omcoreapis/1.0.2/mp/paymentstatus/.+").respond(
        200, json={"data": {"status": "PENDING", "inittxnstatus": "200"}})
    push = OrangePush(http, PushCredentials(ORANGE, "key", "secret", "user", "pass", "699000000", "1234"),
                      "https://vote.example")
    return token, lambda: push.fetch_status(collection())


@pytest.mark.parametrize("provider", [mtn_status, orange_status], ids=["mtn", "orange"])
@pytest.mark.parametrize(("expires_in", "token_requests"), [
    (3600, 1), ("3600", 1), ("3600.0", 1), (None, 1), (30, 2), ("30", 2), ("30.0", 2), (59.5, 2)])
@respx.mock
async def test_providers_read_expires_in_alike(provider: Callable[..., tuple[respx.Route, StatusCall]],
                                               expires_in: object, token_requests: int) -> None:
    """A token that lasts less than the margin is asked for again at the next call; one that lasts an
    hour, however it is written, is asked for once."""
    async with httpx.AsyncClient() as http:
        token, status_call = provider(http, expires_in)
        await status_call()
        await status_call()
    assert token.call_count == token_requests
