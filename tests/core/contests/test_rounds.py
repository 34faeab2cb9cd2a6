"""A show in rounds: a round's terms become the contest's while it is open, its votes are its own, its board starts
from zero or carries the counts as chosen, a producer closes the lines on air (now or after a countdown) and no vote
is taken from that instant, and who goes through is decided by the result (ties at the cut all go through) or by hand
with a reason kept; the others are eliminated and offered nowhere."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from gateway.core import audit
from gateway.core.contests import contests_admin, round_rules, rounds
from gateway.core.contests.contest_drafts import BoardVisibility, ContestDraft
from gateway.core.contests.price_tiers import InvalidTiers, PriceTier
from gateway.core.contests.ranking import CandidateInfo, rank_candidates
from gateway.core.errors import Conflict, DomainError, VoteRejected
from gateway.core.orders import refunding
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, CandidateStatus, Contest, ContestStatus, OrderStatus, VoteOrder
from tests.factories import assert_tally_invariant, make_contest, place
from tests.show_rounds import OWNER, a_show, paid_votes, reloaded


async def board_of(sessions: Sessions, contest: Contest, number: int) -> dict[str, int]:
    async with sessions() as session:
        row = await rounds._round(session, contest, number)
        board = await rounds.round_board(session, row)
    return {r.candidate.code: r.votes for r in board.ranked}


async def test_a_two_round_show_with_an_elimination_takes_each_rounds_votes_at_its_own_price(
        sessions: Sessions) -> None:
    contest, now = await a_show(sessions)
    opened = await rounds.open_round(sessions, OWNER, contest.id, 1)
    live = await reloaded(sessions, contest)
    assert (live.status, live.price_per_vote, live.current_round_id) == (ContestStatus.OPEN, 100, opened.id)
    heats = await paid_votes(sessions, live, {"01": 5, "02": 3, "03": 3, "04": 1})
    assert {order.round_id for order in heats} == {opened.id} and heats[0].amount == 500

    closed_at = await rounds.close_lines(sessions, OWNER, contest.id)
    with pytest.raises(VoteRejected):  # from the instant of the close, on every channel: placing reads the row
        await place(sessions, await reloaded(sessions, contest), candidate="01")
    with pytest.raises(Conflict, match="Payments may still count"):  # a late payment could still count
        await rounds.decide_round(sessions, OWNER, contest.id, 1, places=2, now=closed_at + timedelta(seconds=10))
    decided = await rounds.decide_round(sessions, OWNER, contest.id, 1, places=2,
                                        now=closed_at + rounds.DEFAULT_LATE_GRACE)
    # 02 and 03 tie at the cut: both go through (the stated tie rule); 04 leaves.
    assert sorted(c.candidate.code for c in decided.ranked if c.candidate.id in decided.through) == ["01", "02", "03"]
    async with sessions() as session:
        statuses = dict((await session.execute(select(Candidate.code, Candidate.status)
                                               .where(Candidate.contest_id == contest.id))).all())
    assert statuses["04"] is CandidateStatus.ELIMINATED and statuses["01"] is CandidateStatus.ACTIVE

    final = await rounds.open_round(sessions, OWNER, contest.id, 2)
    live = await reloaded(sessions, contest)
    assert live.price_per_vote == 250
    with pytest.raises(VoteRejected, match="can no longer receive votes"):
        await place(sessions, live, candidate="04")
    [order] = await paid_votes(sessions, live, {"02": 2})
    assert (order.round_id, order.amount) == (final.id, 500)
    # The final's board started from zero; the heats' board keeps its own figures.
    assert await board_of(sessions, contest, 2) == {"02": 2, "01": 0, "03": 0}
    assert await board_of(sessions, contest, 1) == {"01": 5, "02": 3, "03": 3, "04": 1}
    await assert_tally_invariant(sessions, contest.id)  # the tallies stay the contest's whole count


async def test_a_round_that_carries_the_counts_starts_from_the_previous_rounds_figures(sessions: Sessions) -> None:
    contest, _ = await a_show(sessions, carry=True)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    await paid_votes(sessions, await reloaded(sessions, contest), {"01": 4, "02": 2, "03": 1})
    closed_at = await rounds.close_lines(sessions, OWNER, contest.id)
    await rounds.decide_round(sessions, OWNER, contest.id, 1, places=2, now=closed_at + rounds.DEFAULT_LATE_GRACE)
    await rounds.open_round(sessions, OWNER, contest.id, 2)
    await paid_votes(sessions, await reloaded(sessions, contest), {"02": 3})
    assert await board_of(sessions, contest, 2) == {"02": 5, "01": 4}


async def test_who_goes_through_by_hand_needs_a_reason_and_the_reason_is_kept(sessions: Sessions) -> None:
    contest, _ = await a_show(sessions)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    await paid_votes(sessions, await reloaded(sessions, contest), {"01": 4, "02": 2})
    closed_at = await rounds.close_lines(sessions, OWNER, contest.id)
    later = closed_at + rounds.DEFAULT_LATE_GRACE
    with pytest.raises(DomainError, match="Say why"):
        await rounds.decide_round(sessions, OWNER, contest.id, 1, by_hand=["02"], reason=" ", now=later)
    with pytest.raises(DomainError, match="Not a candidate of this round: 09"):
        await rounds.decide_round(sessions, OWNER, contest.id, 1, by_hand=["09"], reason="jury", now=later)
    await rounds.decide_round(sessions, OWNER, contest.id, 1, by_hand=["02", "03"],
                              reason="01 withdrew for health reasons", now=later)
    [entry] = await audit.entries(sessions, audit.AuditFilter(action="round.decide"))
    assert entry.details["through"] == ["02", "03"]
    assert entry.details["reason"] == "01 withdrew for health reasons"


async def test_lines_close_after_a_countdown_and_not_before(sessions: Sessions) -> None:
    contest, _ = await a_show(sessions)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    closes = await rounds.close_lines(sessions, OWNER, contest.id, countdown_seconds=60)
    live = await reloaded(sessions, contest)
    assert live.closes_at == closes and closes > datetime.now(UTC) + timedelta(seconds=55)
    await place(sessions, live, candidate="01")  # the countdown runs: still taken
    with pytest.raises(Conflict, match="already close sooner"):
        await rounds.close_lines(sessions, OWNER, contest.id, countdown_seconds=120)
    with pytest.raises(DomainError, match="countdown"):
        await rounds.close_lines(sessions, OWNER, contest.id, countdown_seconds=-1)


async def test_rounds_open_in_order_once_the_earlier_one_is_decided(sessions: Sessions) -> None:
    contest, _ = await a_show(sessions)
    with pytest.raises(Conflict, match="earlier rounds"):
        await rounds.open_round(sessions, OWNER, contest.id, 2)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    with pytest.raises(Conflict, match="only a planned round opens"):
        await rounds.open_round(sessions, OWNER, contest.id, 1)
    with pytest.raises(DomainError, match="in the future"):
        await rounds.plan_round(sessions, OWNER, contest.id,
                                round_rules.RoundPlan("Gone", 100, datetime.now(UTC) - timedelta(minutes=1)))


def test_the_tie_rule_sends_everyone_tied_at_the_cut_through() -> None:
    candidates = [CandidateInfo(i, f"0{i}", f"C{i}") for i in range(1, 6)]
    ranked = rank_candidates(candidates, {1: 9, 2: 7, 3: 7, 4: 7, 5: 1})
    assert [c.code for c in round_rules.through_by_result(ranked, 1)] == ["01"]
    assert [c.code for c in round_rules.through_by_result(ranked, 2)] == ["01", "02", "03", "04"]
    assert [c.code for c in round_rules.through_by_result(ranked, 9)] == ["01", "02", "03", "04", "05"]
    with pytest.raises(DomainError):
        round_rules.through_by_result(ranked, 0)


async def test_a_rounds_bundles_are_the_contests_while_it_is_open(sessions: Sessions) -> None:
    now = datetime.now(UTC)
    contest = await make_contest(sessions, candidates=2, status=ContestStatus.DRAFT,
                                 price_tiers=[{"votes": 5, "amount": 400}])
    with pytest.raises(InvalidTiers):  # dearer than its ten single votes
        await rounds.plan_round(sessions, OWNER, contest.id, round_rules.RoundPlan(
            "Final", 250, now + timedelta(hours=1), price_tiers=(PriceTier(10, 2600),)))
    await rounds.plan_round(sessions, OWNER, contest.id, round_rules.RoundPlan(
        "Final", 250, now + timedelta(hours=1), price_tiers=(PriceTier(10, 2000),)))
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    live = await reloaded(sessions, contest)
    assert live.price_tiers == [{"votes": 10, "amount": 2000}]  # the round's, not the contest's own before
    assert (await place(sessions, live, quantity=10)).amount == 2000
    assert (await place(sessions, live, quantity=5, msisdn="+237670000002")).amount == 1250


async def decided_heats(sessions: Sessions, contest: Contest) -> list[VoteOrder]:
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    heats = await paid_votes(sessions, await reloaded(sessions, contest), {"01": 5, "02": 3, "03": 1})
    closed_at = await rounds.close_lines(sessions, OWNER, contest.id)
    await rounds.decide_round(sessions, OWNER, contest.id, 1, places=2, now=closed_at + rounds.DEFAULT_LATE_GRACE)
    return heats


async def test_a_heats_vote_taken_back_during_the_final_leaves_the_finals_board_as_it_is(sessions: Sessions) -> None:
    contest, _ = await a_show(sessions)
    heats = await decided_heats(sessions, contest)
    await rounds.open_round(sessions, OWNER, contest.id, 2)
    await paid_votes(sessions, await reloaded(sessions, contest), {"01": 2})
    await refunding.uncount(sessions, heats[0].id, OrderStatus.REFUND_REQUESTED, "the voter asked")  # 01's 5
    assert await board_of(sessions, contest, 2) == {"01": 2, "02": 0}  # not 0: the heats' votes are not the final's
    await assert_tally_invariant(sessions, contest.id)


async def test_a_round_with_orders_in_the_review_queue_is_not_decided(sessions: Sessions) -> None:
    contest, _ = await a_show(sessions)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    [order] = await paid_votes(sessions, await reloaded(sessions, contest), {"01": 5})
    async with sessions.begin() as session:  # a fraud rule held it, a person has not decided yet
        await session.execute(update(VoteOrder).where(VoteOrder.id == order.id).values(status=OrderStatus.HELD))
    closed_at = await rounds.close_lines(sessions, OWNER, contest.id)
    with pytest.raises(Conflict, match="wait in the review queue"):
        await rounds.decide_round(sessions, OWNER, contest.id, 1, places=1, now=closed_at + rounds.DEFAULT_LATE_GRACE)


async def test_a_candidate_added_during_a_round_joins_its_board_from_zero(sessions: Sessions) -> None:
    contest, _ = await a_show(sessions)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    added = await contests_admin.add_candidate(sessions, OWNER, contest.id, "Late Entry")
    await paid_votes(sessions, await reloaded(sessions, contest), {added.code: 2})
    assert (await board_of(sessions, contest, 1))[added.code] == 2


def contest_draft(contest: Contest) -> ContestDraft:
    """The contest's own settings, as its form would send them back."""
    return ContestDraft(contest.name, contest.slug, contest.price_per_vote, contest.currency,
                        contest.max_votes_per_order, contest.opens_at, contest.closes_at, list(contest.providers),
                        BoardVisibility.LIVE, contest.default_language,
                        country=contest.country, time_zone=contest.time_zone)


async def test_saving_the_form_during_a_round_keeps_its_close_price_and_the_published_grace(
        sessions: Sessions) -> None:
    contest, _ = await a_show(sessions)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    closes = await rounds.close_lines(sessions, OWNER, contest.id, countdown_seconds=90)
    live = await reloaded(sessions, contest)
    draft = replace(contest_draft(live), closes_at=live.closes_at.replace(second=0, microsecond=0),
                    price_per_vote=999)  # the form, to the minute, and a price typed over
    await contests_admin.update_contest(sessions, OWNER, contest.id, draft)
    saved = await reloaded(sessions, contest)
    assert (saved.closes_at, saved.price_per_vote) == (closes, 100)  # the producer's close, to the second
    with pytest.raises(Conflict, match="published"):
        await contests_admin.update_contest(sessions, OWNER, contest.id, replace(draft, late_grace_seconds=0))


async def test_a_rounds_board_is_not_held_by_a_freeze_of_the_round_before(sessions: Sessions) -> None:
    contest, _ = await a_show(sessions)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == contest.id)
                              .values(board_frozen_at=datetime.now(UTC)))
    closed_at = await rounds.close_lines(sessions, OWNER, contest.id)
    await rounds.decide_round(sessions, OWNER, contest.id, 1, places=2, now=closed_at + rounds.DEFAULT_LATE_GRACE)
    await rounds.open_round(sessions, OWNER, contest.id, 2)
    assert (await reloaded(sessions, contest)).board_frozen_at is None


async def test_a_show_with_rounds_keeps_its_currency(sessions: Sessions) -> None:
    """Its rounds are priced in it: in another currency the final's 250 would be another sum (250 KES cents)."""
    contest, _ = await a_show(sessions)  # in XAF, the heats and the final planned
    with pytest.raises(Conflict, match="keeps its currency"):
        await contests_admin.update_contest(sessions, OWNER, contest.id,
                                            replace(contest_draft(await reloaded(sessions, contest)), currency="KES"))
    assert (await reloaded(sessions, contest)).currency == "XAF"
    await contests_admin.update_contest(sessions, OWNER, contest.id,
                                        replace(contest_draft(await reloaded(sessions, contest)), name="Gala"))
