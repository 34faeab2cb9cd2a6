"""A new provider is its folder plus one line in the app's provider list: Toy Money (tests/toy_provider/), a provider
the core, the channels and the admin area never heard of, takes a vote end to end through the web API (placed, its
signed callback, counted), and is offered payouts by its own API because it declares them (paid by hand where it
does not), without a change to the core, its schema, the channels, the admin area or the assembly."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from assembly.provider_list import PROVIDERS
from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.web.keys import STARTS
from gateway.core.audit import Actor
from gateway.core.money_out import payouts
from gateway.core.money_out.payouts_sent import payouts_pass
from gateway.core.orders import tables
from gateway.core.providers import Capability
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus, PayoutState
from gateway.kit.keys import PROVIDERS as REGISTRY
from gateway.kit.provider_parts import Implementations, ProviderParts
from gateway.kit.settings import ServiceSettings
from payments.registry import ProviderRegistry
from tests.admin.accounts import browser_sign_in, make_account
from tests.channels.ussd.sessions import dial, orders
from tests.factories import assert_tally_invariant, make_contest, tallies
from tests.servers import free_port
from tests.toy_provider.provider import SIGNATURE, TOY, ToyMoney, toy_parts

ORGANISER = Actor(None, "organiser@example.org", "owner")
APPROVER = Actor(None, "approver@example.org", "owner")
WALLET = "+237670000123"
TOY_CODE = "*384*777#"
StartApp = Callable[..., Awaitable[TestClient]]


@pytest.fixture
async def toy_app(clean: None, settings: Settings) -> AsyncIterator[StartApp]:
    """The app with the toy among its providers (`toy`: its parts, with or without payouts)."""
    started: list[TestClient] = []

    async def start(toy: ProviderParts[ServiceSettings] = TOY) -> TestClient:
        port = free_port()
        app_settings = settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{port}",
                                                   "ussd_push_delay_seconds": 0.01})
        client = TestClient(TestServer(create_app(app_settings, providers=(*PROVIDERS, toy)), port=port))  # the line
        await client.start_server()
        started.append(client)
        return client

    yield start
    for client in started:
        await client.close()


def toy_money(client: TestClient) -> ToyMoney:
    toy = client.app[REGISTRY].get("toy")
    assert isinstance(toy, ToyMoney)
    return toy


async def paid_vote(client: TestClient, contest: Contest, quantity: int) -> uuid.UUID:
    """A vote for 07 placed through the web API, approved by the payer, and Toy Money's callback taken in."""
    response = await client.post(f"/api/v1/contests/{contest.slug}/votes", json={
        "candidate": "07", "quantity": quantity, "provider": "toy", "msisdn": "+237670000001"})
    assert response.status == 201, await response.text()
    placed = await response.json()
    assert placed["next"]["action"] == "approve_on_phone"  # it declares a prompt on the phone
    order_id = uuid.UUID(placed["order"]["id"])
    await client.app[STARTS].wait_idle()  # the prompt goes out after the reply
    path, body, headers = toy_money(client).approve(order_id)
    answered = await client.post(path, data=body, headers=headers)
    assert answered.status == 200, await answered.text()
    return order_id


async def test_a_provider_the_core_never_heard_of_takes_a_vote_end_to_end(
        toy_app: StartApp, sessions: Sessions) -> None:
    client = await toy_app()
    contest = await make_contest(sessions, candidates=8, providers=["toy"])
    no_number = await client.post(f"/api/v1/contests/{contest.slug}/votes", json={
        "candidate": "07", "quantity": 1, "provider": "toy"})
    assert no_number.status == 422 and (await no_number.json())["error"]["field"] == "msisdn"  # a phone's wallet
    order_id = await paid_vote(client, contest, 3)
    order = await tables.get_order(sessions, order_id)
    assert (order.status, order.provider, order.provider_txn_id) == (OrderStatus.PAID, "toy",
                                                                      toy_money(client).paid[order.payment_reference])
    path, body, _ = toy_money(client).approve(order_id)
    forged = await client.post(path, data=body, headers={SIGNATURE: "0" * 64})
    assert forged.status == 400  # not signed by Toy Money: refused, counts nothing
    assert (await tallies(sessions, contest.id))["07"] == 3
    await assert_tally_invariant(sessions, contest.id)


async def test_the_phone_channels_offer_it_because_it_prompts_on_the_phone(
        toy_app: StartApp, sessions: Sessions) -> None:
    """USSD lists the phone's wallets a contest takes: the toy among them, by its own label, and its order is the
    toy's, pushed after the reply."""
    client = await toy_app()
    contest = await make_contest(sessions, candidates=8, providers=["toy", "stripe"], ussd_service_codes=[TOY_CODE])
    screens = await dial(client, "1*07*2*1*1", msisdn=WALLET, code=TOY_CODE)
    assert screens[3].startswith("CON 2 votes = 200 FCFA\nPayer avec:\n1 Toy Money\n")  # no card on a phone
    [order] = await orders(sessions)
    assert (order.provider, order.channel, order.voter_msisdn, order.contest_id) == ("toy", "ussd", WALLET, contest.id)
    await client.app[STARTS].wait_idle()
    assert [prompt.order_id for prompt in toy_money(client).prompts.values()] == [order.id]


@pytest.mark.parametrize(("declares_payouts", "approved_as", "paid_by_api"), [
    (True, PayoutState.REQUESTED, 1), (False, PayoutState.BY_HAND, 0)])
async def test_its_wallets_are_paid_out_by_its_own_api_where_it_declares_payouts(
        toy_app: StartApp, sessions: Sessions, declares_payouts: bool, approved_as: PayoutState,
        paid_by_api: int) -> None:
    client = await toy_app(toy_parts(payouts=declares_payouts))
    contest = await make_contest(sessions, candidates=8, providers=["toy"])
    await paid_vote(client, contest, 10)  # 1,000 XAF owed
    owner = await make_account(sessions, "owner")
    await browser_sign_in(client, owner)
    page = await (await client.get(f"/admin/contests/{contest.id}/settlement")).text()
    assert '<option value="toy">Toy Money</option>' in page  # a wallet a payout account may be: it charges one
    await payouts.set_account(sessions, ORGANISER, contest.id, payouts.AccountDraft(
        "toy", "Ada Organiser", msisdn=WALLET, proven=True))
    payout = await payouts.request_payout(sessions, ORGANISER, contest.id, "XAF", 600)
    registry = client.app[REGISTRY]
    approved = await payouts.approve_payout(sessions, registry, APPROVER, contest.id, payout.id)
    assert approved.state is approved_as
    now, outcomes = datetime.now(UTC), []
    for _ in range(2):
        outcomes += [turn.outcome for turn in await payouts_pass(sessions, registry, now)]
        now += timedelta(minutes=5)
    assert outcomes == (["sent", "succeeded"] if declares_payouts else [])
    transfers = toy_money(client).transfers.values()
    assert [(sent.msisdn, sent.amount) for sent in transfers] == [(WALLET, 600)] * paid_by_api


def test_a_provider_carries_only_what_it_declares() -> None:
    """The core reads capabilities: an implementation of payouts under a provider that does not declare them would
    be a rail the admin area never offers, so the registry refuses it."""
    quiet, toy = toy_parts(payouts=False), ToyMoney()
    assert Capability.PAYOUTS in TOY.capabilities and Capability.PAYOUTS not in quiet.capabilities
    with pytest.raises(ValueError, match="payouts without PAYOUTS"):
        ProviderRegistry((*PROVIDERS, quiet), {"toy": Implementations.one(toy, payouts=toy)})
    assert ProviderRegistry((*PROVIDERS, TOY), {"toy": Implementations.one(toy, payouts=toy)}).payout_sender("toy")
