"""Money paid into a show's paybill during a round whose word comes after the round was decided (M-Pesa's statement
finds a lost confirmation minutes later): it is that round's money, held for a person, never counted into the round
open now nor lost as money naming no candidate because its candidate has since been eliminated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gateway.core.contests import round_rules, rounds
from gateway.core.errors import Conflict
from gateway.core.fraud import holds
from gateway.core.money_in import paid_unasked
from gateway.core.oversight import orders_admin
from gateway.db.engine import Sessions
from gateway.db.models import ContestRound, ContestStatus, OrderStatus, VoteOrder
from tests.factories import make_contest, tallies
from tests.provider_registry import registry_of
from tests.show_rounds import OWNER


def paid(contest_id: int, account: str, receipt: str, at: datetime) -> paid_unasked.UnaskedPayment:
    return paid_unasked.UnaskedPayment(provider="mpesa", channel="paybill", contest_id=contest_id, account=account,
                                       amount=10_000, currency="KES", receipt=receipt, msisdn="+254712000102",
                                       source="statement", paid_at=at)


async def test_a_heats_payment_whose_word_comes_after_the_heats_were_decided_is_held_as_theirs(
        sessions: Sessions) -> None:
    now = datetime.now(UTC)
    contest = await make_contest(sessions, candidates=3, status=ContestStatus.DRAFT, price_per_vote=1000,
                                 currency="KES", providers=["mpesa"], country="KE")
    await rounds.plan_round(sessions, OWNER, contest.id, round_rules.RoundPlan("Heats", 1000, now + timedelta(hours=2)))
    await rounds.plan_round(sessions, OWNER, contest.id, round_rules.RoundPlan("Final", 5000, now + timedelta(hours=4)))
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    during_heats = datetime.now(UTC)
    closed = await rounds.close_lines(sessions, OWNER, contest.id)
    await rounds.decide_round(sessions, OWNER, contest.id, 1, by_hand=["01", "02"], reason="the judges' choice",
                              now=closed + rounds.DEFAULT_LATE_GRACE)
    before = await tallies(sessions, contest.id)
    # Between rounds: the statement brings a heats payment for 01.
    outcome, first = await paid_unasked.settle_unasked(sessions, paid(contest.id, "01", "R1", during_heats),
                                                       remainder="hold", verify_later=False)
    assert outcome is paid_unasked.UnaskedOutcome.HELD
    await rounds.open_round(sessions, OWNER, contest.id, 2)
    # The final open: another heats payment for 02, and one for 03, eliminated since.
    for account, receipt in (("02", "R2"), ("03", "R3")):
        outcome, _ = await paid_unasked.settle_unasked(sessions, paid(contest.id, account, receipt, during_heats),
                                                       remainder="hold", verify_later=False)
        assert outcome is paid_unasked.UnaskedOutcome.HELD, account  # an order, not money naming nobody
    assert await tallies(sessions, contest.id) == before  # counted into no round: the heats' figures are final
    async with sessions() as session:
        heats = await session.scalar(select(ContestRound.id).where(ContestRound.contest_id == contest.id,
                                                                   ContestRound.number == 1))
        orders = list(await session.scalars(select(VoteOrder).where(VoteOrder.contest_id == contest.id)))
    assert len(orders) == 3 and {o.round_id for o in orders} == {heats}
    assert {o.quantity for o in orders} == {10}  # KES 100 at the heats' KES 10 a vote, not the final's KES 50
    assert all(o.status is OrderStatus.HELD for o in orders)
    assert all("during Heats, which was decided before the payment's word came" in (o.hold_reason or "")
               for o in orders)
    # A person may give it back, never count it now (from the CLI or the review queue): its votes would land on
    # the final's board, and the heats' signed figures would change.
    with pytest.raises(Conflict, match="Its round \\(Heats\\) is decided"):
        await holds.release_held(sessions, orders[0].id, actor="owner@example.com", reason="a fan's vote")
    [item] = [i for i in await orders_admin.waiting_reviews(sessions) if i.order_id == orders[1].id]
    with pytest.raises(Conflict, match="Its round \\(Heats\\) is decided"):
        await orders_admin.decide(sessions, registry_of(), OWNER, orders[1].id, item.kind.value, "count", "a fan")
    await holds.reject_held(sessions, orders[0].id, actor="owner@example.com", reason="paid after the heats")
    assert await tallies(sessions, contest.id) == before
    async with sessions() as session:
        given_back = await session.get(VoteOrder, orders[0].id)
    assert given_back is not None and given_back.status is OrderStatus.REFUND_REQUESTED
