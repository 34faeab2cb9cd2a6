"""Free votes: a proven number's allowance per day (the contest's local day) or per round, kept by the database,
counted apart on the ledger and the results sheet, and never an order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from gateway.core.audit import Actor
from gateway.core.contests import rounds
from gateway.core.errors import RateLimited, VoteRejected
from gateway.core.orders import counting
from gateway.core.orders.free_votes import FreeVoteRequest, FreeVoteUsed, free_votes_left, take_free_vote
from gateway.core.results import ledger, signing
from gateway.core.voters import blocklist
from gateway.db.engine import Sessions
from gateway.db.models import Contest, ContestStatus, FreeVote, LedgerEntry, OutboxMessage, VoteOrder
from tests.factories import TEST_RESULTS_KEY, assert_tally_invariant, make_contest, place, tallies
from tests.show_rounds import a_show

NUMBER = "+237670000001"
OWNER = Actor(admin_id=None, email="owner@example.org", role="owner")


def ask(contest: Contest, code: str = "01", msisdn: str = NUMBER, address: str | None = None) -> FreeVoteRequest:
    return FreeVoteRequest(contest.slug, code, msisdn, "ussd", voter_address=address)


async def free_rows(sessions: Sessions, contest: Contest) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(FreeVote)
                                        .where(FreeVote.contest_id == contest.id)) or 0)


async def test_a_number_takes_its_free_vote_of_the_day_and_is_refused_a_second(sessions: Sessions) -> None:
    now = datetime.now(UTC)
    contest = await make_contest(sessions, free_votes_per_day=1, time_zone="Africa/Douala",
                                 closes_at=now + timedelta(days=3))
    assert await free_votes_left(sessions, contest.slug, NUMBER, now) == 1
    taken = await take_free_vote(sessions, ask(contest), now)
    assert (taken.candidate_code, taken.left) == ("01", 0)
    with pytest.raises(FreeVoteUsed, match="taken its free votes for today") as refused:
        await take_free_vote(sessions, ask(contest, "02"), now)
    assert refused.value.code == "free_vote_used" and refused.value.status == 409
    assert await free_rows(sessions, contest) == 1
    assert await free_votes_left(sessions, contest.slug, NUMBER, now) == 0
    # Another number has its own; the same number has a new one the next day.
    await take_free_vote(sessions, ask(contest, msisdn="+237670000002"), now)
    assert await free_votes_left(sessions, contest.slug, NUMBER, now + timedelta(days=1)) == 1


async def test_the_day_is_the_contests_local_day(sessions: Sessions) -> None:
    contest = await make_contest(sessions, free_votes_per_day=1, time_zone="Africa/Nairobi",
                                 opens_at=datetime(2026, 1, 1, tzinfo=UTC), closes_at=datetime(2027, 1, 1, tzinfo=UTC))
    evening = datetime(2026, 6, 1, 20, 30, tzinfo=UTC)  # 23:30 in Nairobi
    await take_free_vote(sessions, ask(contest), evening)
    with pytest.raises(FreeVoteUsed):
        await take_free_vote(sessions, ask(contest), evening + timedelta(minutes=20))  # 23:50, the same day
    await take_free_vote(sessions, ask(contest), evening + timedelta(minutes=40))  # 00:10 the next day in Nairobi


async def test_concurrent_claims_take_only_the_allowance(sessions: Sessions) -> None:
    contest = await make_contest(sessions, free_votes_per_day=2)
    results = await asyncio.gather(*(take_free_vote(sessions, ask(contest, f"0{1 + i % 3}")) for i in range(12)),
                                   return_exceptions=True)
    assert sum(1 for result in results if not isinstance(result, BaseException)) == 2
    assert all(isinstance(result, FreeVoteUsed) for result in results if isinstance(result, BaseException))
    assert await free_rows(sessions, contest) == 2
    assert (await ledger.verify(sessions, contest.id)).clean


async def test_free_votes_are_counted_apart_on_the_ledger_and_never_touch_paid_tallies(sessions: Sessions) -> None:
    contest = await make_contest(sessions, free_votes_per_day=1)
    order = await place(sessions, contest, "01", quantity=3)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, "T1",
                                   provider=order.provider)
    for index in range(3):
        await take_free_vote(sessions, ask(contest, "02", msisdn=f"+23767100000{index}"))
    assert {code: votes for code, votes in (await tallies(sessions, contest.id)).items() if votes} == {"01": 3}
    await assert_tally_invariant(sessions, contest.id)  # tally == paid orders, and the ledger verifies
    report = await ledger.verify(sessions, contest.id)
    assert report.entries == 4 and sum(report.votes.values()) == 3 and sum(report.free.values()) == 3
    async with sessions() as session:
        kinds = (await session.execute(select(LedgerEntry.kind, LedgerEntry.quantity, LedgerEntry.amount)
                                       .where(LedgerEntry.contest_id == contest.id)
                                       .order_by(LedgerEntry.seq))).all()
        orders = await session.scalar(select(func.count()).select_from(VoteOrder)
                                      .where(VoteOrder.contest_id == contest.id))
    assert [tuple(row) for row in kinds] == [("counted", 3, 300), ("free", 1, 0), ("free", 1, 0), ("free", 1, 0)]
    assert orders == 1  # a free vote is no order: no provider, no money check, no settlement or refund sees it


async def test_a_free_tally_changed_by_hand_is_caught(sessions: Sessions) -> None:
    contest = await make_contest(sessions, free_votes_per_day=1)
    await take_free_vote(sessions, ask(contest))
    async with sessions.begin() as session:
        await session.execute(text("UPDATE free_tallies SET votes = 5 WHERE contest_id = :c"), {"c": contest.id})
    report = await ledger.verify(sessions, contest.id)
    assert not report.clean
    assert any("the ledger counts 1 free votes, the free tallies 5" in problem for problem in report.problems)


async def test_the_results_sheet_lists_free_votes_apart(sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=2, free_votes_per_day=1, free_vote_weight="counted")
    plain = await make_contest(sessions, candidates=2)
    await take_free_vote(sessions, ask(contest, "02"))
    key = signing.private_key(TEST_RESULTS_KEY)
    sheet = (await signing.sign_results(sessions, key, contest.id, reason="on_demand", signed_by="t")).sheet.decode()
    lines = sheet.splitlines()
    assert "candidate,02,Candidate 02,0,0,XAF" in lines  # the paid votes and their money, as ever
    assert "free,01,Candidate 01,0,,counted" in lines and "free,02,Candidate 02,1,,counted" in lines
    assert "total_free,,,1,,counted" in lines
    old = (await signing.sign_results(sessions, key, plain.id, reason="on_demand", signed_by="t")).sheet.decode()
    assert "free" not in old


async def test_a_blocked_number_or_address_is_refused_and_nothing_is_recorded(sessions: Sessions) -> None:
    contest = await make_contest(sessions, free_votes_per_day=1)
    await blocklist.block_number(sessions, OWNER, NUMBER, "bot")
    with pytest.raises(VoteRejected, match="This number cannot vote") as refused:
        await take_free_vote(sessions, ask(contest))
    assert refused.value.code == "msisdn_blocked"
    await blocklist.block_address(sessions, OWNER, "203.0.113.0/24", "farm")
    with pytest.raises(VoteRejected) as by_address:
        await take_free_vote(sessions, ask(contest, msisdn="+237670000009", address="203.0.113.7"))
    assert by_address.value.code == "address_blocked"
    assert await free_rows(sessions, contest) == 0
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)
                                    .where(OutboxMessage.topic == "vote.free")) == 0
    assert (await ledger.verify(sessions, contest.id)).entries == 0


async def test_the_per_minute_limit_applies(sessions: Sessions) -> None:
    contest = await make_contest(sessions, free_votes_per_day=5, max_orders_per_minute=2)
    for _ in range(2):
        await take_free_vote(sessions, ask(contest))
    with pytest.raises(RateLimited):
        await take_free_vote(sessions, ask(contest))


async def test_a_contest_without_free_votes_or_closed_refuses_them(sessions: Sessions) -> None:
    paid_only = await make_contest(sessions)
    with pytest.raises(VoteRejected) as none:
        await take_free_vote(sessions, ask(paid_only))
    assert none.value.code == "no_free_votes"
    closed = await make_contest(sessions, free_votes_per_day=1, status=ContestStatus.CLOSED)
    with pytest.raises(VoteRejected) as shut:
        await take_free_vote(sessions, ask(closed))
    assert shut.value.code == "contest_not_open"
    assert await free_votes_left(sessions, closed.slug, NUMBER) == 0


async def test_free_votes_per_round_come_with_the_open_round(sessions: Sessions) -> None:
    contest, _ = await a_show(sessions)
    async with sessions.begin() as session:
        await session.execute(text("UPDATE contests SET free_votes_per_day = 1, free_votes_per = 'round' "
                                   "WHERE id = :c"), {"c": contest.id})
    assert await free_votes_left(sessions, contest.slug, NUMBER) == 0
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    taken = await take_free_vote(sessions, ask(contest))
    with pytest.raises(FreeVoteUsed, match="for this round"):
        await take_free_vote(sessions, ask(contest), datetime.now(UTC) + timedelta(minutes=90))
    async with sessions() as session:
        row = await session.get(FreeVote, taken.id)
        current = await session.scalar(select(Contest.current_round_id).where(Contest.id == contest.id))
    assert row is not None and row.round_id == current is not None
