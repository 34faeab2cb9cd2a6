"""The vote core against real PostgreSQL: orders are placed once and counted exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from gateway.core.errors import NotFound, RateLimited, VoteRejected
from gateway.core.orders import closing, counting, placing, refunding, tables
from gateway.core.orders.outcomes import ConfirmOutcome, RefundSettled
from gateway.db.engine import Sessions
from gateway.db.models import (
    AuditEntry,
    BlockedMsisdn,
    CandidateStatus,
    ContestStatus,
    OrderStatus,
    OutboxMessage,
    VoteOrder,
)
from tests.channel_names import Channel
from tests.factories import RULES_OFF, assert_tally_invariant, count_orders, make_contest, place, tallies
from tests.provider_registry import capabilities_of


async def test_place_order_creates_pending_order_priced_from_contest(sessions: Sessions) -> None:
    contest = await make_contest(sessions, price_per_vote=150, currency="XAF")
    order = await place(sessions, contest, "03", quantity=4, msisdn="670 00 00 01")
    assert order.status is OrderStatus.PENDING
    assert (order.amount, order.currency, order.quantity) == (600, "XAF", 4)
    assert order.voter_msisdn == "+237670000001"
    assert order.payment_reference.version == 4
    assert order.expires_at > datetime.now(UTC)


@pytest.mark.parametrize(
    ("contest_changes", "candidate", "quantity", "provider", "msisdn", "code"),
    [
        ({"status": ContestStatus.CLOSED}, "01", 1, "mtn", "+237670000001", "contest_not_open"),
        ({"status": ContestStatus.PAUSED}, "01", 1, "mtn", "+237670000001", "contest_not_open"),
        ({"opens_at": datetime.now(UTC) + timedelta(hours=1)}, "01", 1, "mtn", "+237670000001", "contest_not_open"),
        ({"closes_at": datetime.now(UTC) - timedelta(minutes=1), "opens_at": datetime.now(UTC) - timedelta(days=1)},
         "01", 1, "mtn", "+237670000001", "contest_closed"),
        ({}, "99", 1, "mtn", "+237670000001", "candidate_not_found"),
        ({}, "02", 1, "mtn", "+237670000001", "candidate_not_active"),
        ({}, "03", 1, "mtn", "+237670000001", "candidate_not_found"),
        ({}, "01", 0, "mtn", "+237670000001", "invalid_quantity"),
        ({}, "01", 101, "mtn", "+237670000001", "invalid_quantity"),
        ({"providers": ["mtn"]}, "01", 1, "orange", "+237690000001", "provider_not_enabled"),
        ({}, "01", 1, "mtn", None, "msisdn_required"),
        ({}, "01", 1, "mtn", "12345", "invalid_msisdn"),
    ],
)
async def test_invalid_orders_are_rejected_and_create_nothing(
    sessions: Sessions, contest_changes: dict[str, object], candidate: str, quantity: int, provider: str,
    msisdn: str | None, code: str,
) -> None:
    statuses = {"02": CandidateStatus.ELIMINATED, "03": CandidateStatus.HIDDEN}
    contest = await make_contest(sessions, candidate_status=statuses, **contest_changes)
    with pytest.raises(VoteRejected) as caught:
        await place(sessions, contest, candidate, quantity, provider, msisdn)
    assert caught.value.code == code
    assert caught.value.message
    assert await count_orders(sessions) == 0


async def test_unknown_contest_is_not_found(sessions: Sessions) -> None:
    with pytest.raises(NotFound):
        request = placing.OrderRequest("nope", "01", 1, "mtn", Channel.WEB, "+237670000001")
        await placing.place_order(sessions, request, capabilities=capabilities_of("mtn"),
                                  pending_ttl=timedelta(minutes=5))


async def test_same_client_key_returns_the_same_order(sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    first = await place(sessions, contest, client_key="ussd:session-1")
    replays = await asyncio.gather(*(place(sessions, contest, client_key="ussd:session-1") for _ in range(20)))
    assert {order.id for order in replays} == {first.id}
    assert await count_orders(sessions) == 1


async def test_confirm_counts_once_and_writes_outbox(sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    order = await place(sessions, contest, "02", quantity=5)
    first = await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 500, "XAF", "txn-1",
                                           provider=order.provider)
    again = await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 500, "XAF", "txn-1",
                                           provider=order.provider)
    assert (first, again) == (ConfirmOutcome.COUNTED, ConfirmOutcome.ALREADY_DECIDED)
    assert (await tallies(sessions, contest.id))["02"] == 5
    stored = await tables.get_order(sessions, order.id)
    assert stored.status is OrderStatus.PAID and stored.provider_txn_id == "txn-1"
    async with sessions() as session:
        topics = list(await session.scalars(select(OutboxMessage.topic)))
    assert topics == ["vote.confirmed"]


@pytest.mark.parametrize(("amount", "currency"), [(499, "XAF"), (500, "EUR"), (5, "XAF")])
async def test_amount_or_currency_mismatch_is_flagged_not_counted(sessions: Sessions, amount: int,
                                                                  currency: str) -> None:
    contest = await make_contest(sessions)
    order = await place(sessions, contest, "01", quantity=5)
    outcome = await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", amount, currency, "txn-x",
                                             provider=order.provider)
    assert outcome is ConfirmOutcome.FLAGGED
    stored = await tables.get_order(sessions, order.id)
    assert stored.status is OrderStatus.FLAGGED and "mismatch" in (stored.status_reason or "")
    assert (await tallies(sessions, contest.id))["01"] == 0
    await assert_tally_invariant(sessions, contest.id)


async def test_success_after_expiry_or_failure_is_flagged_not_counted(sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    expired = await place(sessions, contest, "01", quantity=2)
    failed = await place(sessions, contest, "01", quantity=3)
    assert await closing.expire_order(sessions, expired.id)
    assert await closing.fail_order(sessions, failed.id, "APPROVAL_REJECTED")
    for order in (expired, failed):
        outcome = await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", "late",
                                                 provider=order.provider)
        assert outcome is ConfirmOutcome.FLAGGED
        assert (await tables.get_order(sessions, order.id)).status is OrderStatus.FLAGGED
    assert (await tallies(sessions, contest.id))["01"] == 0


async def test_a_confirmation_from_another_provider_is_refused_and_changes_nothing(sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    order = await place(sessions, contest, "01", quantity=5)  # an MTN order of 500 XAF
    outcome = await counting.confirm_payment(sessions, order.id, "complete/paid", 500, "XAF", "pi_1", provider="stripe")
    assert outcome is ConfirmOutcome.OTHER_PROVIDER
    assert (await tables.get_order(sessions, order.id)).status is OrderStatus.PENDING  # MTN's word may still come
    assert (await tallies(sessions, contest.id))["01"] == 0
    assert await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 500, "XAF", "txn-1",
                                          provider="mtn") is ConfirmOutcome.COUNTED


async def test_failure_after_success_changes_nothing(sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    order = await place(sessions, contest, "04", quantity=3)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 300, "XAF", "t", provider=order.provider)
    assert not await closing.fail_order(sessions, order.id, "FAILED")
    assert not await closing.expire_order(sessions, order.id)
    assert (await tables.get_order(sessions, order.id)).status is OrderStatus.PAID
    assert (await tallies(sessions, contest.id))["04"] == 3


async def test_terminal_states_are_written_once(sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    order = await place(sessions, contest)
    results = await asyncio.gather(*(closing.fail_order(sessions, order.id, "FAILED") for _ in range(20)))
    assert results.count(True) == 1
    assert (await tables.get_order(sessions, order.id)).status_reason == "FAILED"


async def test_200_concurrent_confirmations_of_one_order_count_once(sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    order = await place(sessions, contest, "05", quantity=7)
    outcomes = await asyncio.gather(
        *(counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 700, "XAF", "txn",
                                   provider=order.provider) for _ in range(200))
    )
    assert outcomes.count(ConfirmOutcome.COUNTED) == 1
    assert outcomes.count(ConfirmOutcome.ALREADY_DECIDED) == 199
    assert (await tallies(sessions, contest.id))["05"] == 7
    await assert_tally_invariant(sessions, contest.id)


async def test_500_concurrent_confirmations_of_distinct_orders_are_all_counted(sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=5, fraud_rules=RULES_OFF)  # one payer, 500 orders
    codes = [f"{i % 5 + 1:02d}" for i in range(500)]
    orders = await asyncio.gather(*(place(sessions, contest, code, quantity=i % 3 + 1)
                                    for i, code in enumerate(codes)))
    outcomes = await asyncio.gather(
        *(counting.confirm_payment(sessions, o.id, "SUCCESSFUL", o.amount, "XAF", f"t{i}",
                                   provider=o.provider) for i, o in enumerate(orders))
    )
    assert set(outcomes) == {ConfirmOutcome.COUNTED}
    expected: dict[str, int] = {}
    for i, code in enumerate(codes):
        expected[code] = expected.get(code, 0) + i % 3 + 1
    assert await tallies(sessions, contest.id) == expected
    await assert_tally_invariant(sessions, contest.id)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 500


async def test_blocked_numbers_cannot_order(sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    async with sessions.begin() as session:
        session.add(BlockedMsisdn(msisdn="+237670000009", reason="chargebacks"))
    with pytest.raises(VoteRejected) as caught:
        await place(sessions, contest, msisdn="670000009")
    assert caught.value.code == "msisdn_blocked"
    assert await count_orders(sessions) == 0
    await place(sessions, contest, msisdn="670000008")  # others still can


async def test_per_number_limits_hold_under_concurrency(sessions: Sessions) -> None:
    contest = await make_contest(sessions, max_orders_per_minute=3, max_orders_per_day=5)
    results = await asyncio.gather(*(place(sessions, contest) for _ in range(10)), return_exceptions=True)
    assert sum(1 for r in results if isinstance(r, VoteOrder)) == 3
    assert all(isinstance(r, RateLimited) and "3 in a minute" in r.message for r in results
               if not isinstance(r, VoteOrder))
    await place(sessions, contest, msisdn="+237670000002")  # another number is not held back
    async with sessions.begin() as session:  # a minute later, the daily limit still counts
        await session.execute(update(VoteOrder).values(created_at=datetime.now(UTC) - timedelta(minutes=2)))
    await place(sessions, contest)
    await place(sessions, contest)
    with pytest.raises(RateLimited, match="5 in a day"):
        await place(sessions, contest)


async def test_a_replayed_order_is_answered_with_itself_even_when_it_used_up_the_payers_limit(
        sessions: Sessions) -> None:
    contest = await make_contest(sessions, max_orders_per_minute=1)
    results = await asyncio.gather(*(place(sessions, contest, client_key="ussd:ATUid_1") for _ in range(10)))
    assert len({order.id for order in results}) == 1  # one order, never "too many votes" for its own replay
    assert await count_orders(sessions) == 1


async def test_a_second_different_charge_for_a_paid_order_is_recorded_not_counted(sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    order = await place(sessions, contest, "03", quantity=2)
    assert await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 200, "XAF", "txn-a",
                                          provider=order.provider) is ConfirmOutcome.COUNTED
    assert await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 200, "XAF", "txn-a",
                                          provider=order.provider) \
        is ConfirmOutcome.ALREADY_DECIDED
    second = await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 200, "XAF", "txn-b",
                                            provider=order.provider)
    assert second is ConfirmOutcome.DUPLICATE_PAYMENT
    assert (await tallies(sessions, contest.id))["03"] == 2
    async with sessions() as session:
        entry = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "payment.duplicate"))).one()
        topics = list(await session.scalars(select(OutboxMessage.topic).order_by(OutboxMessage.id)))
    assert entry.target == str(order.id) and entry.details["second_txn"] == "txn-b"
    assert topics == ["vote.confirmed", "payment.duplicate"]


async def order_in(sessions: Sessions, status: OrderStatus) -> VoteOrder:
    """A 3-vote, 300 XAF order of a fresh contest, brought to `status` the way the app brings it there."""
    order = await place(sessions, await make_contest(sessions), "02", quantity=3)
    if status in (OrderStatus.PAID, OrderStatus.REFUND_REQUESTED):
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 300, "XAF", "txn-1", provider=order.provider)
    if status is OrderStatus.REFUND_REQUESTED:
        assert await refunding.uncount(sessions, order.id, OrderStatus.REFUND_REQUESTED, "asked for")
    if status is OrderStatus.EXPIRED:
        assert await closing.expire_order(sessions, order.id)
    if status is OrderStatus.FAILED:
        assert await closing.fail_order(sessions, order.id, "APPROVAL_REJECTED")
    if status is OrderStatus.FLAGGED:
        assert await closing.flag_order(sessions, order.id, "provider reported success without a readable amount")
    assert (await tables.get_order(sessions, order.id)).status is status
    return order


EVERY_REFUNDABLE_STATE = [OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.EXPIRED, OrderStatus.FAILED,
                          OrderStatus.FLAGGED, OrderStatus.REFUND_REQUESTED]


@pytest.mark.parametrize("status", EVERY_REFUNDABLE_STATE)
async def test_a_full_refund_in_any_state_ends_the_order_refunded_with_nothing_counted(
        sessions: Sessions, status: OrderStatus) -> None:
    order = await order_in(sessions, status)
    first = await refunding.settle_refund(sessions, order.id, 300, "xaf", "pi_1")
    again = await refunding.settle_refund(sessions, order.id, 300, "xaf", "pi_1")
    assert (first, again) == (RefundSettled.REFUNDED, RefundSettled.ALREADY_DECIDED)
    assert (await tables.get_order(sessions, order.id)).status is OrderStatus.REFUNDED
    assert (await tallies(sessions, order.contest_id))["02"] == 0
    late = await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 300, "XAF", "pi_1", provider=order.provider)
    assert late is ConfirmOutcome.ALREADY_DECIDED  # a "paid" arriving after the refund counts nothing
    assert (await tallies(sessions, order.contest_id))["02"] == 0
    await assert_tally_invariant(sessions, order.contest_id)


@pytest.mark.parametrize("status", EVERY_REFUNDABLE_STATE)
async def test_a_partial_refund_in_any_state_is_put_before_a_person_and_never_counted_later(
        sessions: Sessions, status: OrderStatus) -> None:
    order = await order_in(sessions, status)
    for _ in range(2):  # the same refund seen twice is recorded once
        assert await refunding.settle_refund(sessions, order.id, 100, "XAF", "pi_1") is RefundSettled.PARTIAL_REFUND
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 300, "XAF", "pi_1", provider=order.provider)
    counted = status in (OrderStatus.PAID,)  # a counted order keeps its votes until a person decides
    after = OrderStatus.PAID if counted else status if status in (OrderStatus.FLAGGED, OrderStatus.REFUND_REQUESTED) \
        else OrderStatus.FLAGGED
    assert (await tables.get_order(sessions, order.id)).status is after
    assert (await tallies(sessions, order.contest_id))["02"] == (3 if counted else 0)
    async with sessions() as session:
        entries = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "payment.partial_refund"))).all()
    assert [(entry.target, entry.details["refunded"]) for entry in entries] == [(str(order.id), 100)]
    await assert_tally_invariant(sessions, order.contest_id)
