"""A payment confirmed after the lines closed and the contest's grace is never counted: the order is late (refunded by
itself, gateway.core.money_out.late_refunds) and its voter told why; one inside the grace counts. To the second, through
the counting statement itself; a replay changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from assembly.resources.providers import build_providers
from assembly.settings import Settings
from assembly.worker.job_runtime import JobContext
from channels.phone.receipt_texts import decided_order_text
from gateway.core.audit import Actor
from gateway.core.contests import contests_admin, rounds
from gateway.core.orders import closing, counting, order_standing, tables
from gateway.core.orders.outcomes import ConfirmOutcome
from gateway.core.orders.receipts import ReceiptKind
from gateway.core.texts import Lang
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus, OutboxMessage, PaymentVerification
from tests.channel_names import Channel
from tests.core.orders.test_receipts import Recorder, deliver_everything
from tests.factories import assert_tally_invariant, make_contest, place, tallies
from tests.show_rounds import a_show, reloaded

OWNER = Actor(admin_id=None, email="owner@example.com", role="owner")  # as tests.show_rounds' owner


@pytest.fixture
async def context(settings: Settings, sessions: Sessions, redis: Redis) -> AsyncIterator[tuple[JobContext, Recorder]]:
    recorder = Recorder()
    async with httpx.AsyncClient() as http:
        registry = build_providers(settings, http)
        yield JobContext(settings, sessions, redis, registry, {Channel.SMS: recorder}), recorder
        await registry.aclose()


async def closing_soon(sessions: Sessions, **fields: object) -> Contest:
    """A contest whose lines close in a few seconds: its orders are placed before the close."""
    return await make_contest(sessions, closes_at=datetime.now(UTC) + timedelta(seconds=5), **fields)


async def confirm_at(sessions: Sessions, order_id: object, at: datetime, *, txn: str = "t-1",
                     verify_later: bool = False) -> ConfirmOutcome:
    order = await tables.get_order(sessions, order_id)  # type: ignore[arg-type]
    return await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, txn,
                                          provider="mtn", now=at, verify_later=verify_later)


async def test_a_payment_confirmed_at_the_graces_last_second_counts(sessions: Sessions) -> None:
    contest = await closing_soon(sessions)
    order = await place(sessions, contest, quantity=2)
    outcome = await confirm_at(sessions, order.id, contest.closes_at + timedelta(seconds=300))
    assert outcome is ConfirmOutcome.COUNTED
    assert (await tables.get_order(sessions, order.id)).status is OrderStatus.PAID
    assert (await tallies(sessions, contest.id))["01"] == 2
    await assert_tally_invariant(sessions, contest.id)


async def test_a_payment_one_second_after_the_grace_is_not_counted_and_its_voter_is_told_why(
        context: tuple[JobContext, Recorder]) -> None:
    ctx, recorder = context
    contest = await closing_soon(ctx.sessions)
    order = await place(ctx.sessions, contest, quantity=2, channel=Channel.SMS)
    outcome = await confirm_at(ctx.sessions, order.id, contest.closes_at + timedelta(seconds=301), verify_later=True)
    assert outcome is ConfirmOutcome.LATE
    late = await tables.get_order(ctx.sessions, order.id)
    assert late.status is OrderStatus.LATE and late.provider_txn_id == "t-1"
    assert late.status_reason is not None and "after the lines closed" in late.status_reason
    assert (await tallies(ctx.sessions, contest.id))["01"] == 0
    await assert_tally_invariant(ctx.sessions, contest.id)
    async with ctx.sessions() as session:  # its money is asked about before it goes back, not verified as a count
        assert (await session.scalars(select(PaymentVerification))).all() == []
    await deliver_everything(ctx, runs=2)
    [receipt] = recorder.receipts  # once, though delivered twice
    assert receipt.kind is ReceiptKind.LATE
    assert decided_order_text(receipt, Lang.EN).startswith("The lines had closed: 2 votes for 01")
    assert "being refunded" in decided_order_text(receipt, Lang.EN)
    assert "remboursé" in decided_order_text(receipt, Lang.FR)


async def test_a_replayed_late_callback_changes_nothing(sessions: Sessions) -> None:
    contest = await closing_soon(sessions)
    order = await place(sessions, contest, channel=Channel.SMS)
    after = contest.closes_at + timedelta(minutes=6)
    assert await confirm_at(sessions, order.id, after) is ConfirmOutcome.LATE
    async with sessions() as session:
        rows = len((await session.scalars(select(OutboxMessage))).all())
    for _ in range(3):
        assert await confirm_at(sessions, order.id, after + timedelta(seconds=5)) is ConfirmOutcome.ALREADY_DECIDED
    assert (await tables.get_order(sessions, order.id)).status is OrderStatus.LATE
    async with sessions() as session:
        assert len((await session.scalars(select(OutboxMessage))).all()) == rows
    assert (await tallies(sessions, contest.id))["01"] == 0
    # What the voter learns from their receipt's reference: not counted, the money going back.
    assert (await order_standing.order_standing(sessions, order.id.hex[:8])).outcome is order_standing.Outcome.REFUNDED


async def test_a_contest_closed_by_hand_counts_its_grace_from_that_moment(sessions: Sessions) -> None:
    contest = await make_contest(sessions)  # closes tomorrow, but the organiser closes it now
    inside, outside = await place(sessions, contest), await place(sessions, contest, msisdn="+237670000002")
    await contests_admin.change_status(sessions, OWNER, contest.id, "close")
    now = datetime.now(UTC)
    assert await confirm_at(sessions, inside.id, now + timedelta(seconds=290)) is ConfirmOutcome.COUNTED
    assert await confirm_at(sessions, outside.id, now + timedelta(seconds=310), txn="t-2") is ConfirmOutcome.LATE
    assert (await tallies(sessions, contest.id))["01"] == 1


async def test_a_success_after_expiry_and_after_the_grace_is_late_not_flagged(sessions: Sessions) -> None:
    """The money can no longer count: it goes back by itself, no person needed."""
    contest = await closing_soon(sessions)
    expired, recent = await place(sessions, contest), await place(sessions, contest, msisdn="+237670000002")
    await closing.expire_order(sessions, expired.id)
    await closing.expire_order(sessions, recent.id)
    assert await confirm_at(sessions, expired.id, contest.closes_at + timedelta(minutes=10)) is ConfirmOutcome.LATE
    assert (await tables.get_order(sessions, expired.id)).status is OrderStatus.LATE
    # Inside the grace, a success after expiry is still a person's call, as before.
    assert await confirm_at(sessions, recent.id, contest.closes_at + timedelta(seconds=10),
                            txn="t-2") is ConfirmOutcome.FLAGGED



async def test_a_heats_vote_paid_after_its_round_closed_is_late_though_the_final_is_open(sessions: Sessions) -> None:
    """The final's lines are open, but the heats' closed: a heats payment past their grace never counts in the
    final (its candidate may even be out)."""
    contest, _ = await a_show(sessions)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    heats = await reloaded(sessions, contest)
    in_time, too_late = await place(sessions, heats), await place(sessions, heats, msisdn="+237670000002")
    closed_at = await rounds.close_lines(sessions, OWNER, contest.id)
    await rounds.decide_round(sessions, OWNER, contest.id, 1, places=3, now=closed_at + rounds.DEFAULT_LATE_GRACE)
    await rounds.open_round(sessions, OWNER, contest.id, 2)
    assert await confirm_at(sessions, in_time.id, closed_at + timedelta(seconds=300)) is ConfirmOutcome.COUNTED
    assert await confirm_at(sessions, too_late.id, closed_at + timedelta(seconds=301),
                            txn="t-2") is ConfirmOutcome.LATE
    await assert_tally_invariant(sessions, contest.id)


async def test_an_order_placed_in_the_instant_of_an_on_air_close_is_judged_by_the_rule_too(sessions: Sessions) -> None:
    """The placement read the contest just before the producer's close committed: its order is no older than the
    close, and a payment confirmed past the grace is late, not counted whenever it comes."""
    contest = await make_contest(sessions)
    order = await place(sessions, contest, quantity=2)
    async with sessions.begin() as session:  # the close lands a moment before the order's own time
        found = await session.get(Contest, contest.id)
        assert found is not None
        found.closes_at = order.created_at - timedelta(milliseconds=5)
    outcome = await confirm_at(sessions, order.id, order.created_at + timedelta(minutes=10))
    assert outcome is ConfirmOutcome.LATE
    assert (await tallies(sessions, contest.id))["01"] == 0


async def test_a_second_charge_on_a_late_order_is_not_kept_in_silence(sessions: Sessions) -> None:
    contest = await closing_soon(sessions)
    order = await place(sessions, contest, quantity=1)
    assert await confirm_at(sessions, order.id, contest.closes_at + timedelta(minutes=10)) is ConfirmOutcome.LATE
    again = await confirm_at(sessions, order.id, contest.closes_at + timedelta(minutes=11), txn="t-2")
    assert again is ConfirmOutcome.DUPLICATE_PAYMENT  # another transaction of MTN's: given back, a person told
