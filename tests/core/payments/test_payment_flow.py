"""Callbacks and the reconciler through the running app, with MTN faked at the wire: forged,
duplicate, late and lost callbacks never count a vote twice and never lose one."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select, update

from assembly.app import create_app
from assembly.settings import Settings
from gateway.core.errors import Conflict
from gateway.core.orders import closing, tables
from gateway.core.payments import refunds, starting
from gateway.core.providers import PaymentError
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, OrderStatus, ProviderEvent, VoteOrder
from gateway.jobs.reconciler import reconcile
from gateway.jobs.start_queue import CONCURRENT_STARTS
from gateway.kit.keys import CHECKS, ENGINE, PROVIDERS, STARTS
from payments.mtn import MtnMomoCollection
from payments.registry import ProviderRegistry, mtn_credentials, sandbox_address
from tests.channel_names import Channel
from tests.factories import assert_fault_end, assert_tally_invariant, make_contest, place, tallies
from tests.fakes.mtn import FakeMtn, callback, reference_of, vote
from tests.waiting import until


async def test_success_confirmed_by_status_get_counts_the_vote(client: TestClient, sessions: Sessions,
                                                               fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    assert await callback(client, order_id, {"status": "SUCCESSFUL"}) == 200
    await client.app[CHECKS].wait_idle()
    order = await tables.get_order(sessions, order_id)
    assert order.status is OrderStatus.PAID and order.provider_txn_id == "mtn-txn-1"
    assert (await tallies(sessions, contest.id))["01"] == 5
    body = await (await client.get(f"/api/v1/orders/{order_id}")).json()
    assert body["status"] == "paid"


async def test_forged_success_callback_for_a_pending_payment_counts_nothing(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    forged = {"status": "SUCCESSFUL", "amount": "500", "currency": "XAF", "financialTransactionId": "fake"}
    assert await callback(client, order_id, forged, method="POST") == 200
    await client.app[CHECKS].wait_idle()
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PENDING
    assert (await tallies(sessions, contest.id))["01"] == 0
    assert fake_mtn.status_calls == 1  # the forged callback only made us ask MTN, which knew better
    async with sessions() as session:
        event = (await session.scalars(select(ProviderEvent))).one()
    assert event.kind == "callback.successful" and event.outcome == "needs_check"
    assert json.loads(event.body)["financialTransactionId"] == "fake"


async def test_a_hundred_concurrent_duplicate_callbacks_count_once_with_few_status_calls(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=3)
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    body = {"status": "SUCCESSFUL", "amount": "300", "currency": "XAF"}
    statuses = await asyncio.gather(*(callback(client, order_id, body) for _ in range(100)))
    await client.app[CHECKS].wait_idle()
    assert statuses == [200] * 100
    assert (await tallies(sessions, contest.id))["01"] == 3
    assert fake_mtn.status_calls <= 5
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PAID
    await assert_fault_end(sessions, contest.id, {("callback.successful", "needs_check"): 100})


async def test_duplicate_callbacks_spread_over_two_web_processes_count_once(
    client: TestClient, settings: Settings, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    """Each process checks once; both checks are at MTN at the same moment and both hear SUCCESSFUL:
    only the vote core's guarded statement keeps the second from counting again."""
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=3)
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    fake_mtn.statuses_held = asyncio.Event()
    body = {"status": "SUCCESSFUL", "amount": "300", "currency": "XAF"}
    async with TestClient(TestServer(create_app(settings))) as other:
        statuses = await asyncio.gather(*(callback(web, order_id, body) for web in (client, other) for _ in range(50)))
        await until(lambda: fake_mtn.status_calls == 2)
        fake_mtn.statuses_held.set()
        for web in (client, other):
            await web.app[CHECKS].wait_idle()
    assert statuses == [200] * 100
    assert (await tallies(sessions, contest.id))["01"] == 3
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PAID
    await assert_fault_end(sessions, contest.id, {("callback.successful", "needs_check"): 100})


@pytest.mark.parametrize("reason", ["APPROVAL_REJECTED", "EXPIRED", "PAYER_NOT_FOUND", "NOT_ENOUGH_FUNDS",
                                    "INTERNAL_PROCESSING_ERROR"])
async def test_each_failure_reason_fails_the_order_with_that_reason(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn, reason: str
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    fake_mtn.decide(await reference_of(sessions, order_id), "FAILED", reason=reason)
    await callback(client, order_id, {"status": "FAILED"})
    await client.app[CHECKS].wait_idle()
    order = await tables.get_order(sessions, order_id)
    assert order.status is OrderStatus.FAILED
    assert order.status_reason and order.status_reason.endswith(f"({reason})") and len(order.status_reason) > 20
    assert (await tallies(sessions, contest.id))["01"] == 0


async def test_amount_mismatch_is_flagged_not_counted(client: TestClient, sessions: Sessions,
                                                      fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=5)
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL", amount="100")
    await callback(client, order_id, {"status": "SUCCESSFUL"})
    await client.app[CHECKS].wait_idle()
    order = await tables.get_order(sessions, order_id)
    assert order.status is OrderStatus.FLAGGED and "mismatch" in (order.status_reason or "")
    await assert_tally_invariant(sessions, contest.id)


async def test_lost_callback_is_recovered_by_the_reconciler(client: TestClient, sessions: Sessions,
                                                           fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=2)
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    registry = client.app[PROVIDERS]
    too_early = await reconcile(sessions, registry, now=datetime.now(UTC) + timedelta(seconds=5))
    assert too_early.checked == 0  # the callback gets its chance first
    report = await reconcile(sessions, registry, now=datetime.now(UTC) + timedelta(seconds=31))
    assert report.changed == [(order_id, "counted")]
    assert (await tallies(sessions, contest.id))["01"] == 2
    again = await reconcile(sessions, registry, now=datetime.now(UTC) + timedelta(minutes=5))
    assert again.checked == 0


async def test_a_pass_out_of_time_stops_between_orders_and_leaves_the_rest_due(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=2)
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    later = datetime.now(UTC) + timedelta(seconds=31)
    stopped = await reconcile(sessions, client.app[PROVIDERS], now=later, stop_after=0)
    assert stopped.checked == 0
    report = await reconcile(sessions, client.app[PROVIDERS], now=later)
    assert report.changed == [(order_id, "counted")]
    await assert_tally_invariant(sessions, contest.id)


async def test_an_answer_nobody_can_read_holds_up_no_other_order(client: TestClient, sessions: Sessions,
                                                                  fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    garbled = await vote(client, "gala", quantity=1)
    fine = await vote(client, "gala", quantity=2, msisdn="+237670000002")
    fake_mtn.garbled.add(str(await reference_of(sessions, garbled)))
    fake_mtn.decide(await reference_of(sessions, fine), "SUCCESSFUL")
    later = datetime.now(UTC) + timedelta(seconds=31)
    for _ in range(2):  # the pass after it too: the unreadable order does not stop every pass at itself
        report = await reconcile(sessions, client.app[PROVIDERS], now=later)
        assert report.outcomes["unreachable"] == 1
    assert report.changed == [] and (await tallies(sessions, contest.id))["01"] == 2
    assert (await tables.get_order(sessions, fine)).status is OrderStatus.PAID
    assert (await tables.get_order(sessions, garbled)).status is OrderStatus.PENDING
    still = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=11))
    assert still.outcomes["unreachable"] == 1  # MTN may have it approved: not expired for our failed question
    expired = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(hours=7))
    assert expired.changed == [(garbled, "expired")]


async def test_a_provider_that_cannot_answer_sits_out_the_rest_of_a_pass_and_its_orders_take_turns(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    """A silent MTN costs a minute per check: a pass must not spend itself on it, other providers wait."""
    await make_contest(sessions, slug="gala")
    orders = [await vote(client, "gala", quantity=1, msisdn=f"+23767000010{n}") for n in range(5)]
    for order_id in orders:
        fake_mtn.garbled.add(str(await reference_of(sessions, order_id)))
    later = datetime.now(UTC) + timedelta(seconds=31)
    first = await reconcile(sessions, client.app[PROVIDERS], now=later)
    assert (first.checked, first.outcomes["provider_down"], fake_mtn.status_calls) == (3, 2, 3)
    second = await reconcile(sessions, client.app[PROVIDERS], now=later)
    assert second.checked == 3 and fake_mtn.status_calls == 6
    checks = [(await tables.get_order(sessions, order_id)).check_count for order_id in orders]
    assert sorted(checks) == [1, 1, 1, 1, 2]  # the two left out of the first pass went first in the second


async def test_a_pass_goes_on_past_an_order_whose_check_breaks(client: TestClient, sessions: Sessions,
                                                                fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    broken = await vote(client, "gala", quantity=1)
    fine = await vote(client, "gala", quantity=2, msisdn="+237670000002")
    fake_mtn.decide(await reference_of(sessions, fine), "SUCCESSFUL")
    fake_mtn.corrupt.add(str(await reference_of(sessions, broken)))  # its answer cannot even be decoded
    later = datetime.now(UTC) + timedelta(seconds=31)
    report = await reconcile(sessions, client.app[PROVIDERS], now=later)
    assert report.outcomes["error"] == 1 and report.changed == [(fine, "counted")]
    assert (await tables.get_order(sessions, broken)).check_count == 1  # backed off, not first again at once
    hours_later = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(hours=7))
    assert hours_later.changed == [(broken, "flagged")]  # a person looks; pending forever would tell nobody
    await assert_tally_invariant(sessions, contest.id)


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


async def test_pending_past_window_expires_and_a_late_success_is_flagged_not_counted(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    report = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=11))
    assert report.changed == [(order_id, "expired")]
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    await callback(client, order_id, {"status": "SUCCESSFUL"})
    await client.app[CHECKS].wait_idle()
    order = await tables.get_order(sessions, order_id)
    assert order.status is OrderStatus.FLAGGED and "after the order was expired" in (order.status_reason or "")
    assert (await tallies(sessions, contest.id))["01"] == 0


async def test_failed_after_success_changes_nothing(client: TestClient, sessions: Sessions,
                                                    fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    reference = await reference_of(sessions, order_id)
    fake_mtn.decide(reference, "SUCCESSFUL")
    await callback(client, order_id, {"status": "SUCCESSFUL"})
    await client.app[CHECKS].wait_idle()
    fake_mtn.decide(reference, "FAILED", reason="INTERNAL_PROCESSING_ERROR")
    await callback(client, order_id, {"status": "FAILED"})
    await client.app[CHECKS].wait_idle()
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PAID
    assert (await tallies(sessions, contest.id))["01"] == 5
    assert fake_mtn.status_calls == 1  # a paid order is not asked about again: a decided vote stays decided
    await assert_fault_end(sessions, contest.id, {("callback.successful", "needs_check"): 1,
                                                  ("callback.failed", "needs_check"): 1})


async def test_order_never_created_at_mtn_is_expired_after_its_window(client: TestClient, sessions: Sessions,
                                                                     fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = (await place(sessions, contest)).id  # placed, then the web process died before the push
    soon = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(seconds=40))
    assert soon.outcomes["not_started_yet"] == 1
    late = await reconcile(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + timedelta(minutes=11))
    assert late.changed == [(order_id, "expired")]
    assert "never started" in ((await tables.get_order(sessions, order_id)).status_reason or "")


@pytest.mark.parametrize("path_id", ["not-a-uuid", "3f2b6c1e-8d4a-4c7e-9b1f-5a6d7e8f9012"])
async def test_callback_for_an_unknown_order_is_kept_and_changes_nothing(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn, path_id: str
) -> None:
    assert await callback(client, path_id, {"status": "SUCCESSFUL"}) == 200
    await client.app[CHECKS].wait_idle()
    async with sessions() as session:
        event = (await session.scalars(select(ProviderEvent))).one()
        assert event.outcome in ("ignored", "unknown_order")
        assert await session.scalar(select(func.count()).select_from(VoteOrder)) == 0
    assert fake_mtn.status_calls == 0


async def test_mobile_money_refund_is_marked_for_a_person_and_leaves_the_tally(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=4)
    pending_refund = refunds.request_refund(sessions, client.app[PROVIDERS], order_id, "ops@example.com")
    with pytest.raises(Conflict):
        await pending_refund  # not paid yet
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    await callback(client, order_id, {"status": "SUCCESSFUL"})
    await client.app[CHECKS].wait_idle()
    outcome = await refunds.request_refund(sessions, client.app[PROVIDERS], order_id, "ops@example.com")
    assert outcome.status is OrderStatus.REFUND_REQUESTED and "manual refund" in outcome.message
    assert (await tallies(sessions, contest.id))["01"] == 0
    await assert_tally_invariant(sessions, contest.id)
    async with sessions() as session:
        entry = (await session.scalars(select(AuditEntry))).one()
    assert (entry.actor, entry.action, entry.target) == ("ops@example.com", "order.refund", str(order_id))


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
        impatient = ProviderRegistry({"mtn": MtnMomoCollection(http, credentials, settings.public_base_url,
                                                               retry_delays=())})
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


async def test_a_burst_of_callbacks_is_checked_within_mtns_status_call_cap_and_all_counted(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    orders = [(await place(sessions, contest, msisdn=f"+2376700002{n:02d}")).id for n in range(25)]
    for order_id in orders:
        client.app[STARTS].request(order_id)
    await client.app[STARTS].wait_idle()
    for order_id in orders:
        fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL", amount="100")
    assert set(await asyncio.gather(*(callback(client, o, {"status": "SUCCESSFUL"}) for o in orders))) == {200}
    await client.app[CHECKS].wait_idle()
    assert max(Counter(fake_mtn.status_call_seconds).values()) <= 10  # MTN would answer 429 above its cap
    assert (await tallies(sessions, contest.id))["01"] == 25
    await assert_tally_invariant(sessions, contest.id)

