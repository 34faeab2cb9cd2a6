"""Fixtures of the sandbox tests: a running sandbox with fast outcomes, a callback receiver, a client of one
provider's sandbox and an MTN token; and of the Stripe tests, with Stripe faked at the wire: the Checkout provider
on a clock of its own (test_stripe_*), and the app taking card votes (test_stripe_flow_*, the admin area's
refunds)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import respx
from aiohttp import test_utils
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.kit.outbound_tls import verified_tls
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from payments.stripe import StripeCheckout
from tests.payments import Receiver
from tests.payments.sandbox.mtn_sandbox import get_token
from tests.payments.stripe import card_votes
from tests.payments.stripe.stripe_checkout import API, SECRET_KEY, WEBHOOK_SECRET, WINDOW_START, Clock


@pytest.fixture
def fake() -> Iterator[respx.MockRouter]:
    """Providers' APIs faked at the wire, each test routing what it needs."""
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def control() -> SandboxControl:
    return SandboxControl(success_delay=0.05, long_delay=0.4)


@pytest.fixture
async def sandbox(control: SandboxControl) -> AsyncIterator[test_utils.TestServer]:
    async with test_utils.TestServer(create_sandbox_app(control)) as server:
        yield server


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    async with receiver.server:
        yield receiver


@pytest.fixture
async def http(request: pytest.FixtureRequest, sandbox: test_utils.TestServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of one provider's part of the sandbox: the path its test module names as SANDBOX ("/mtn", …)."""
    async with httpx.AsyncClient(base_url=str(sandbox.make_url(request.module.SANDBOX)), timeout=5,
                                 verify=verified_tls()) as client:
        yield client


@pytest.fixture
async def token(http: httpx.AsyncClient) -> str:
    """An access token of the MTN sandbox."""
    return await get_token(http)


@pytest.fixture
def clock() -> Clock:
    return Clock(WINDOW_START + 60)


@pytest.fixture
async def provider(clock: Clock) -> AsyncIterator[StripeCheckout]:
    provider = StripeCheckout(SECRET_KEY, WEBHOOK_SECRET, "https://vote.example/", api_base=API,
                              max_network_retries=0, clock=clock)
    yield provider
    await provider.aclose()


@pytest.fixture
def stripe_api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False, using="httpx") as router:
        yield router


@pytest.fixture
def stripe_wire(stripe_api: respx.MockRouter) -> respx.Router:
    """Stripe's API at the wire, under the name the card-vote tests know it by."""
    return stripe_api


@pytest.fixture
async def card_client(clean: None, settings: Settings, stripe_wire: respx.Router) -> AsyncIterator[TestClient]:
    card = settings.model_copy(update={"stripe_secret_key": SecretStr("sk_test_x"),
                                       "stripe_webhook_secret": SecretStr(card_votes.SECRET),
                                       "stripe_api_base": API})
    async with TestClient(TestServer(create_app(card))) as client:
        yield client
