"""Payment prompts lost, late, slow or cut short, through the running app with MTN faked at the wire: the
reconciler starts a push lost with its web process (giving it the provider's whole window) and expires an order
never started, waits out no start under way and restarts one cut short once its lease runs out; a session end
cannot cancel an order whose prompt may be on the phone; prompts a slow MTN has not taken yet hold no database
connection and hold up nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from assembly.settings import Settings
from assembly.web.keys import ENGINE, STARTS
from gateway.core.money_in import starting
from gateway.core.money_in.reconciler import reconcile
from gateway.core.money_in.start_queue import CONCURRENT_STARTS
from gateway.core.orders import closing, tables
from gateway.core.providers import PaymentError
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, VoteOrder
from gateway.kit.keys import CHECKS, PROVIDERS
from payments.local_sandbox import sandbox_address
from payments.mtn import MtnMomoCollection
from payments.mtn.provider import mtn_credentials
from tests.channel_names import Channel
from tests.factories import make_contest, place, tallies
from tests.fakes.mtn import FakeMtn, callback, reference_of, vote
from tests.provider_registry import registry_of
from tests.waiting import until


async def test_a_lost_prompt_that_cannot_be_sent_again_yet_holds_up_nothing(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    lost = (await place(sessions, contest)).id  # the process died before the push
    fine = await vote(client, "gala", quantity=2, msisdn="+237670000002")
    fake_mtn.decide(await reference_of(sessions, fine), "SUCCESSFUL")
    fake_mtn.prompts_down = True
    report = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=80))
    assert report.outcomes["unreachable"] == 1 and report.changed == [(fine, "counted")]
    fake_mtn.prompts_down = False
    again = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=3))
    assert again.outcomes["restarted"] == 1 and fake_mtn.statuses.get(str(await reference_of(sessions, lost)))


async def test_order_never_created_at_mtn_is_expired_after_its_window(client: TestClient, sessions: Sessions,
                                                                     fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = (await place(sessions, contest)).id  # placed, then the web process died before the push
    soon = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=40))
    assert soon.outcomes["not_started_yet"] == 1
    late = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=11))
    assert late.changed == [(order_id, "expired")]
    assert "never started" in ((await tables.get_order(sessions, order_id)).status_reason or "")


async def test_a_push_lost_with_its_web_process_is_started_by_the_reconciler(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = (await place(sessions, contest, quantity=2)).id  # the process died before the push
    soon = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=40))
    assert soon.outcomes["not_started_yet"] == 1 and fake_mtn.pay_calls == 0  # its own retries may be running
    report = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=80))
    assert report.outcomes["restarted"] == 1 and fake_mtn.pay_calls == 1
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    await callback(client, order_id, {"status": "SUCCESSFUL"})
    await client.app[CHECKS].wait_idle()
    assert (await tallies(sessions, contest.id))["01"] == 2


async def test_a_prompt_sent_again_late_gets_the_providers_whole_window_to_be_approved(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = (await place(sessions, contest, quantity=2)).id  # the process died before the push
    async with sessions.begin() as session:  # … seven minutes ago: three are left of its ten
        await session.execute(update(VoteOrder).where(VoteOrder.id == order_id).values(
            created_at=func.now() - timedelta(minutes=7), expires_at=func.now() + timedelta(minutes=3)))
    report = await reconcile(sessions, client.app[PROVIDERS])
    assert report.outcomes["restarted"] == 1
    approving = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=5))
    assert approving.outcomes["pending"] == 1  # past the order's first deadline, within MTN's window
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    await callback(client, order_id, {"status": "SUCCESSFUL"})
    await client.app[CHECKS].wait_idle()
    assert (await tallies(sessions, contest.id))["01"] == 2
    expired = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=11))
    assert expired.checked == 0


async def test_a_vote_leaves_its_payer_mtns_whole_window_after_the_prompt_without_moving_its_expiry(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    await make_contest(sessions, slug="gala")
    order = await tables.get_order(sessions, await vote(client, "gala"))
    assert order.payment_started_at is not None
    window = MtnMomoCollection.payment_window
    assert order.expires_at >= order.payment_started_at + window  # the payer may approve until MTN gives up
    # placed with room for its start, so recording the start kept the expiry as placed (no index entry moved)
    assert order.expires_at - order.created_at == window + starting.START_ROOM


async def test_the_reconciler_does_not_wait_out_a_start_already_under_way(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = (await place(sessions, contest)).id
    fake_mtn.prompts_held = asyncio.Event()  # MTN is slow to take this prompt
    client.app[STARTS].request(order_id)
    await until(lambda: fake_mtn.pay_calls == 1)
    report = await asyncio.wait_for(
        reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=80)), timeout=5)
    assert report.outcomes["start_in_progress"] == 1 and fake_mtn.pay_calls == 1  # no second prompt
    fake_mtn.prompts_held.set()
    await client.app[STARTS].wait_idle()
    assert (await tables.get_order(sessions, order_id)).payment_started_at is not None


@pytest.mark.parametrize(("lease_left", "outcome", "prompts"), [(timedelta(seconds=60), "start_in_progress", 0),
                                                              (timedelta(seconds=-1), "restarted", 1)])
async def test_a_start_cut_short_by_a_crash_is_restarted_once_its_lease_runs_out(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn, lease_left: timedelta, outcome: str, prompts: int
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = (await place(sessions, contest)).id
    async with sessions.begin() as session:  # a process claimed the start, then died before the provider call
        await session.execute(update(VoteOrder).where(VoteOrder.id == order_id)
                              .values(start_lease_until=func.now() + lease_left))
    report = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=80))
    assert report.outcomes[outcome] == 1 and fake_mtn.pay_calls == prompts
    # A start still held is looked at again on the next pass, not after a back-off past its lease.
    assert (await tables.get_order(sessions, order_id)).check_count == (0 if outcome == "start_in_progress" else 1)


async def test_a_session_end_cannot_cancel_an_order_whose_prompt_may_be_on_the_phone(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn, settings: Settings
) -> None:
    """USSD: Africa's Talking reports the session Failed after our start gave up on a slow MTN, which
    may have taken the prompt all the same. The payer approves: the vote counts, nobody is charged for nothing."""
    contest = await make_contest(sessions, slug="gala")
    order_id = (await place(sessions, contest, quantity=3, channel=Channel.USSD)).id
    fake_mtn.prompts_unanswered = True  # MTN takes the prompt, its answer never reaches us
    # The sandbox's address, where fake_mtn answers.
    credentials = mtn_credentials(settings, sandbox_address(settings, "mtn"))
    assert credentials is not None
    async with httpx.AsyncClient() as http:  # one try, no resend: the start gives up at once
        impatient = registry_of(mtn=MtnMomoCollection(http, credentials, settings.public_base_url, retry_delays=()))
        with pytest.raises(PaymentError):
            await starting.start_payment(sessions, impatient, order_id)
    assert not await closing.cancel_if_unstarted(sessions, order_id, "USSD session ended Failed")
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")  # the payer approved on the phone
    await callback(client, order_id, {"status": "SUCCESSFUL"})
    await client.app[CHECKS].wait_idle()
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PAID
    assert (await tallies(sessions, contest.id))["01"] == 3


async def test_prompts_a_slow_provider_has_not_taken_yet_hold_no_connection_and_hold_up_nothing(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    first = await vote(client, "gala", quantity=2)
    fake_mtn.prompts_held = asyncio.Event()
    placed = await asyncio.wait_for(asyncio.gather(*(
        client.post("/api/v1/contests/gala/votes", json={"candidate": "02", "quantity": 1, "provider": "mtn",
                                                         "msisdn": f"+2376700001{n:02d}"},
                    headers={"X-Forwarded-For": f"203.0.113.{n + 1}"}) for n in range(40))),  # 40 voters
        timeout=10)
    assert [response.status for response in placed] == [201] * 40
    await until(lambda: fake_mtn.pay_calls == 1 + CONCURRENT_STARTS)  # as many prompts at MTN as it may have
    # None of the held prompts holds a database connection (a moment for the last reply's own to come back).
    await until(lambda: client.app[ENGINE].pool.checkedout() == 0, timeout=5)
    fake_mtn.decide(await reference_of(sessions, first), "SUCCESSFUL")
    assert await asyncio.wait_for(callback(client, first, {"status": "SUCCESSFUL"}), timeout=5) == 200
    await asyncio.wait_for(client.app[CHECKS].wait_idle(), timeout=5)
    assert (await tallies(sessions, contest.id))["01"] == 2
    fake_mtn.prompts_held.set()
    await client.app[STARTS].wait_idle()
    async with sessions() as session:
        started = await session.scalar(select(func.count()).select_from(VoteOrder)
                                       .where(VoteOrder.payment_started_at.is_not(None)))
    assert started == 41 and fake_mtn.pay_calls == 41
