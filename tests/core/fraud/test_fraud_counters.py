"""The fraud rules' counters: what an order is judged by, kept as orders arrive, each member counted once, windows
that move on, refusals that count nothing, and a cost that does not grow with the orders of one address."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from sqlalchemy import func, select, text, update

from gateway.core.errors import VoteRejected
from gateway.core.fraud import counter_sweep, fraud_counters, holds, shared_learning
from gateway.core.money_in import chargebacks
from gateway.core.orders import counting, placing
from gateway.db.engine import Sessions
from gateway.db.models import (
    AuditEntry,
    BlockedMsisdn,
    Contest,
    ContestStatus,
    FraudCount,
    FraudMember,
    SharedAddress,
    VoteOrder,
)
from tests.channel_names import Channel
from tests.factories import PENDING_TTL, assert_tally_invariant, make_contest, tallies
from tests.provider_registry import capabilities_of

T = TypeVar("T")
# Half a minute into an hour (and so into each of its buckets) that the test contest is open through.
SHOW = datetime.now(UTC).replace(minute=0, second=30, microsecond=0) - timedelta(minutes=30)
OPEN = {"opens_at": SHOW - timedelta(hours=1), "closes_at": SHOW + timedelta(days=3)}


async def vote(sessions: Sessions, contest: Contest, number: str, *, candidate: str = "01", at: datetime = SHOW,
               address: str | None = "203.0.113.7", quantity: int = 1) -> VoteOrder:
    request = placing.OrderRequest(contest.slug, candidate, quantity, "mtn", Channel.WEB, msisdn=number,
                                   voter_address=address)
    return await placing.place_order(sessions, request, capabilities=capabilities_of("mtn"), pending_ttl=PENDING_TTL,
                                     now=at)


async def test_each_number_behind_an_address_counts_once_however_often_it_votes(sessions: Sessions) -> None:
    contest = await make_contest(sessions, **OPEN)
    seen = [(await vote(sessions, contest, number, at=SHOW + timedelta(seconds=i))).fraud_figures
            for i, number in enumerate(("+237670000001", "+237670000002", "+237670000001", "+237670000002"))]
    assert [f["address_numbers_day"] for f in seen if f] == [1, 2, 2, 2]
    assert [f["address_orders_10_minutes"] for f in seen if f] == [1, 2, 3, 4]
    assert [f["payer_orders_10_minutes"] for f in seen if f] == [1, 1, 2, 2]


async def test_a_window_moves_on_and_what_it_no_longer_covers_is_not_counted(sessions: Sessions) -> None:
    contest = await make_contest(sessions, **OPEN)
    await vote(sessions, contest, "+237670000001", candidate="01")
    await vote(sessions, contest, "+237670000001", candidate="02", at=SHOW + timedelta(minutes=30))
    later = await vote(sessions, contest, "+237670000001", candidate="03", at=SHOW + timedelta(hours=3))
    assert later.fraud_figures is not None
    assert later.fraud_figures["address_candidates_hour"] == 1  # the two before are hours old
    assert later.fraud_figures["payer_orders_10_minutes"] == 1
    assert later.fraud_figures["payer_votes_day"] == 3  # the day still covers them


async def test_a_member_seen_again_in_a_later_bucket_is_not_counted_twice(sessions: Sessions) -> None:
    """Candidate 01 at 20:00 and again at 21:10 (a new hour's bucket), 02 at 21:20: two candidates, not three."""
    contest = await make_contest(sessions, **OPEN)
    await vote(sessions, contest, "+237670000001", candidate="01")
    await vote(sessions, contest, "+237670000002", candidate="01", at=SHOW + timedelta(minutes=70))
    third = await vote(sessions, contest, "+237670000003", candidate="02", at=SHOW + timedelta(minutes=80))
    assert third.fraud_figures is not None and third.fraud_figures["address_candidates_hour"] == 2


async def test_a_refused_order_counts_nothing(sessions: Sessions) -> None:
    contest = await make_contest(sessions, **OPEN)
    async with sessions.begin() as session:
        session.add(BlockedMsisdn(msisdn="+237670000009", reason="chargebacks"))
    with pytest.raises(VoteRejected):
        await vote(sessions, contest, "+237670000009")
    with pytest.raises(VoteRejected):  # a channel's idempotency key takes another path to the refusal
        await placing.place_order(sessions, placing.OrderRequest(
            contest.slug, "01", 1, "mtn", Channel.WEB, msisdn="+237670000009", voter_address="203.0.113.7",
            client_key="web:retry-1"), capabilities=capabilities_of("mtn"), pending_ttl=PENDING_TTL, now=SHOW)
    after = await vote(sessions, contest, "+237670000001")
    assert after.fraud_figures is not None and after.fraud_figures["address_orders_10_minutes"] == 1


async def test_an_address_s_thousandth_order_reads_and_writes_the_same_rows_as_its_first(sessions: Sessions) -> None:
    """The figures of a busy address are a fixed number of rows, not a scan of its orders."""
    contest = await make_contest(sessions, fraud_rules={"hold_score": 0}, **OPEN)
    for n in range(60):
        await vote(sessions, contest, f"+2376700002{n:02d}", candidate=f"{n % 5 + 1:02d}",
                   at=SHOW + timedelta(seconds=n))
    async with sessions() as session:
        address_rows = await session.scalar(select(func.count()).select_from(FraudCount).where(
            FraudCount.contest_id == contest.id, FraudCount.subject == "203.0.113.7"))
        candidates = await session.scalar(select(func.count()).select_from(FraudMember).where(
            FraudMember.contest_id == contest.id, FraudMember.name == "address_candidates_hour"))
    assert address_rows == 3  # its orders, its numbers and its candidates
    assert candidates == 5


async def test_an_address_the_service_learned_is_shared_is_judged_as_a_crowd(sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=8, **OPEN)
    async with sessions.begin() as session:
        session.add(SharedAddress(address="198.51.100.20", numbers=80, paid_orders=200))
    placed = [await vote(sessions, contest, f"+2376700003{n:02d}", address="198.51.100.20",
                         candidate=f"{n % 8 + 1:02d}", at=SHOW + timedelta(seconds=n)) for n in range(15)]
    assert all(order.hold_reason is None for order in placed)
    assert placed[-1].fraud_figures is not None and placed[-1].fraud_figures["shared"] is True
    elsewhere = [await vote(sessions, contest, f"+2376700004{n:02d}", address="198.51.100.21",
                            at=SHOW + timedelta(seconds=n)) for n in range(12)]
    assert elsewhere[-1].hold_reason is not None and "numbers_per_address" in elsewhere[-1].hold_reason


async def test_a_payer_refused_after_review_is_held_on_their_next_order(sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules={"payer_orders_per_10_minutes": 1}, **OPEN)
    await vote(sessions, contest, "+237670000001", address=None)
    second = await vote(sessions, contest, "+237670000001", address=None)
    await holds.reject_held(sessions, await held(sessions, second), actor="owner@example.org", reason="stolen wallet")
    next_day = await vote(sessions, contest, "+237670000001", address=None, at=SHOW + timedelta(days=1))
    assert next_day.hold_reason is not None and next_day.hold_reason.startswith("payer_history: 1 refused before")


async def paid_from(sessions: Sessions, contest: Contest, address: str, numbers: range) -> list[VoteOrder]:
    placed = []
    for n in numbers:
        order = await vote(sessions, contest, f"+2376700005{n:02d}", address=address,
                           candidate=f"{n % 8 + 1:02d}", at=SHOW + timedelta(seconds=n))
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, f"L{n}",
                                       provider="mtn", now=SHOW + timedelta(seconds=n))
        placed.append(order)
    return placed


async def test_an_address_many_numbers_paid_from_is_learned_and_forgotten_once_one_is_reported(
        sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=8, fraud_rules={"numbers_per_address_per_day": 0}, **OPEN)
    orders = await paid_from(sessions, contest, "198.51.100.40", range(shared_learning.NUMBERS_TO_LEARN))
    await paid_from(sessions, contest, "198.51.100.41", range(shared_learning.NUMBERS_TO_LEARN - 1))
    assert await shared_learning.learn_shared_addresses(sessions, datetime.now(UTC)) == (1, 0)
    async with sessions() as session:
        assert (await session.scalars(select(SharedAddress.address))).all() == ["198.51.100.40"]
    await holds.reject_held(sessions, await held(sessions, orders[0]), actor="owner@example.org", reason="SIM box")
    assert await shared_learning.learn_shared_addresses(sessions, datetime.now(UTC)) == (0, 1)


async def held(sessions: Sessions, order: VoteOrder) -> uuid.UUID:
    """A person's reading of a paid order as suspicious: held for them (the review queue's path)."""
    async with sessions.begin() as session:
        row = await session.get(VoteOrder, order.id)
        assert row is not None
        row.status = row.status.HELD
    return order.id


async def test_a_chargeback_takes_the_votes_off_once_and_holds_the_payer_s_next_order(sessions: Sessions) -> None:
    contest = await make_contest(sessions, **OPEN)
    order = await vote(sessions, contest, "+237670000071", quantity=4, address=None)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, "CB1",
                                   provider="mtn", now=SHOW)
    assert (await tallies(sessions, contest.id))["01"] == 4
    assert await chargebacks.record_chargeback(sessions, order.id, now=SHOW)
    assert not await chargebacks.record_chargeback(sessions, order.id, now=SHOW)  # once
    assert (await tallies(sessions, contest.id))["01"] == 0
    await assert_tally_invariant(sessions, contest.id)
    later = await vote(sessions, contest, "+237670000071", address=None, at=SHOW + timedelta(hours=2))
    assert later.hold_reason is not None and later.hold_reason.startswith("payer_history: 1 refused before")
    async with sessions() as session:
        audit = (await session.scalars(select(AuditEntry.action).where(AuditEntry.target == str(order.id)))).all()
    assert audit == ["payment.charged_back"]


async def test_counters_nobody_will_read_again_are_swept(sessions: Sessions) -> None:
    contest = await make_contest(sessions, **OPEN)
    await vote(sessions, contest, "+237670000001", at=SHOW)
    await vote(sessions, contest, "+237670000002", at=SHOW + timedelta(hours=2))
    order = await vote(sessions, contest, "+237670000003", at=SHOW + timedelta(hours=2), address="198.51.100.9")
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", "S1", provider="mtn",
                                   now=SHOW + timedelta(hours=2))

    async def kept() -> set[tuple[str, str]]:
        async with sessions() as session:
            return {(name, subject) for name, subject in await session.execute(
                select(FraudCount.name, FraudCount.subject))}

    before = await kept()
    assert await counter_sweep.sweep_counters(sessions, SHOW + timedelta(hours=2)) > 0
    after = await kept()
    # The first voter's ten-minute and hourly counters are two hours old: gone; their day's are not.
    assert ("payer_orders_10_minutes", "+237670000001") in before - after
    assert ("payer_votes_day", "+237670000001") in after and ("address_numbers_day", "203.0.113.7") in after
    assert {("payer_orders_10_minutes", "+237670000002"), ("payer_paid_quick", "+237670000003")} <= after
    next_vote = await vote(sessions, contest, "+237670000001", at=SHOW + timedelta(hours=2, seconds=1))
    assert next_vote.fraud_figures is not None and next_vote.fraud_figures["payer_votes_day"] == 2  # still read
    async with sessions.begin() as session:  # the show closed two days ago: nothing of it is read again
        await session.execute(update(Contest).where(Contest.id == contest.id).values(
            status=ContestStatus.CLOSED, closes_at=SHOW + timedelta(hours=3)))
    await counter_sweep.sweep_counters(sessions, SHOW + timedelta(days=2))
    assert await kept() == set()
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(FraudMember)) == 0


async def browser_vote(sessions: Sessions, contest: Contest, number: str | None, at: datetime) -> VoteOrder:
    """From one browser and address: paid by mobile money from `number`, or by card (no number)."""
    provider = "mtn" if number else "stripe"
    request = placing.OrderRequest(contest.slug, "01", 1, provider, Channel.WEB, msisdn=number,
                                   voter_address="198.51.100.60", voter_ref="browser-60")
    return await placing.place_order(sessions, request, capabilities=capabilities_of(provider),
                                     pending_ttl=PENDING_TTL, now=at)


async def test_a_card_is_not_judged_by_the_numbers_its_browser_and_address_paid_with(sessions: Sessions) -> None:
    """Numbers behind an address or a browser are a figure of orders with a number: a card is none of them."""
    contest = await make_contest(sessions, fraud_rules={"hold_score": 0}, **OPEN)
    for n in range(4):
        await browser_vote(sessions, contest, f"+23767000061{n}", SHOW + timedelta(seconds=n))
    card = await browser_vote(sessions, contest, None, SHOW + timedelta(seconds=5))
    assert card.fraud_figures is not None
    assert (card.fraud_figures["address_numbers_day"], card.fraud_figures["voter_numbers"]) == (0, 0)
    assert card.fraud_figures["address_orders_10_minutes"] == 5  # the card is one of the address's orders
    fifth = await browser_vote(sessions, contest, "+237670000615", SHOW + timedelta(seconds=6))
    assert fifth.fraud_figures is not None
    assert (fifth.fraud_figures["address_numbers_day"], fifth.fraud_figures["voter_numbers"]) == (5, 5)


async def done_without_waiting(sessions: Sessions, work: Awaitable[T], what: str) -> T:
    """`work`'s answer, once it is done, having never waited on a lock of this database meanwhile."""
    running = asyncio.ensure_future(work)
    while not running.done():
        async with sessions() as session:
            waiting = await session.scalar(select(func.count()).select_from(text("pg_stat_activity")).where(
                text("wait_event_type = 'Lock' AND datname = current_database()")))
        assert not waiting, f"the {what} waits on the placement's rows"
        await asyncio.sleep(0.01)
    return await running


async def test_a_count_and_a_chargeback_never_wait_on_a_placement_of_the_same_payer(sessions: Sessions) -> None:
    """A placement holds its payer's, address's and voter's counter rows until it commits; the payer's earlier
    order is counted, and charged back, meanwhile, without waiting for it (a count waits holding its contest's
    ledger: every count of the show would wait with it)."""
    contest = await make_contest(sessions, **OPEN)
    order = await browser_vote(sessions, contest, "+237670000620", SHOW)
    async with sessions() as placing_now:  # as the next placement of this payer holds them, before its commit
        locked = await placing_now.execute(text(
            "SELECT name FROM fraud_counts WHERE contest_id = :contest AND name = ANY(:placed) FOR UPDATE"),
            {"contest": contest.id, "placed": [counter.name for counter in fraud_counters.COUNTERS]})
        assert {"payer_orders_10_minutes", "address_orders_10_minutes", "voter_orders_10_minutes"} <= set(
            locked.scalars())
        assert await done_without_waiting(sessions, counting.confirm_payment(
            sessions, order.id, "SUCCESSFUL", order.amount, order.currency, "W1", provider="mtn", now=SHOW),
            "count") is counting.ConfirmOutcome.COUNTED
        assert await done_without_waiting(sessions, chargebacks.record_chargeback(sessions, order.id, now=SHOW),
                                          "chargeback")
    later = await browser_vote(sessions, contest, "+237670000620", SHOW + timedelta(seconds=1))
    assert later.fraud_figures is not None and later.fraud_figures["payer_refused"] == 1
