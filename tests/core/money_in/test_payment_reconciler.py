"""The reconciler through the running app, with MTN faked at the wire: a lost callback is recovered; a pass out
of time leaves the rest due; an unreadable or broken answer, or a provider that cannot answer, holds up no other
order; a payment still pending past its window expires, and a success after that is flagged, not counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient

from gateway.core.money_in.reconciler import reconcile
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus
from gateway.kit.keys import CHECKS, PROVIDERS
from tests.factories import assert_tally_invariant, make_contest, tallies
from tests.fakes.mtn import FakeMtn, callback, reference_of, vote


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
