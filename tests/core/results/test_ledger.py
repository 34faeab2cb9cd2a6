"""The vote ledger: every counting event on a per-contest hash chain, and tampering caught."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import select, text

from gateway.core.fraud import holds
from gateway.core.money_in.verification import by_status as verification
from gateway.core.orders import counting, refunding
from gateway.core.results import ledger, signing
from gateway.core.results.ledger_chain import LedgerEvent, chain, entry_hash, walk
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, Contest, LedgerEntry, VoteOrder
from tests.factories import RULES_OFF, TEST_RESULTS_KEY, assert_tally_invariant, make_contest, place, tallies

ONE_ORDER_PER_PAYER = {**RULES_OFF, "payer_orders_per_10_minutes": 1}


async def confirm(sessions: Sessions, order: VoteOrder, txn: str) -> None:
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, txn,
                                   provider=order.provider)


async def entries(sessions: Sessions, contest: Contest) -> list[LedgerEntry]:
    async with sessions() as session:
        return list((await session.scalars(select(LedgerEntry).where(LedgerEntry.contest_id == contest.id)
                                           .order_by(LedgerEntry.seq))).all())


async def run_of_votes(sessions: Sessions) -> Contest:
    """Counted votes, a reversal, a refund, and both decisions of the review queue on held orders."""
    contest = await make_contest(sessions, fraud_rules=ONE_ORDER_PER_PAYER)
    counted = [await place(sessions, contest, code, quantity=q, msisdn=f"+23767000000{i}")
               for i, (code, q) in enumerate((("01", 3), ("02", 2), ("01", 4), ("03", 1)))]
    for i, order in enumerate(counted):
        await confirm(sessions, order, f"T{i}")
    assert await verification.take_back(sessions, counted[1].id, "the provider has no such payment", None) \
        is verification.Verified.DISAGREED
    await refunding.settle_refund(sessions, counted[3].id, None, None, "R1")
    held = [await place(sessions, contest, "02", quantity=q, msisdn="+237670000000") for q in (5, 6)]
    for i, order in enumerate(held):
        await confirm(sessions, order, f"H{i}")
    await holds.release_held(sessions, held[0].id, actor="owner@example.org", reason="checked")
    await holds.reject_held(sessions, held[1].id, actor="owner@example.org", reason="a bot")
    return contest


async def test_a_normal_run_verifies_clean_and_its_tallies_are_the_tables(sessions: Sessions) -> None:
    contest = await run_of_votes(sessions)
    kinds = [(entry.kind, entry.quantity) for entry in await entries(sessions, contest)]
    assert kinds == [("counted", 3), ("counted", 2), ("counted", 4), ("counted", 1), ("reversed", -2),
                     ("refunded", -1), ("released", 5), ("rejected", 0)]
    report = await ledger.verify(sessions, contest.id)
    assert report.clean, report
    assert report.entries == 8
    async with sessions() as session:
        codes = dict((await session.execute(select(Candidate.id, Candidate.code)
                                            .where(Candidate.contest_id == contest.id))).all())
    by_code = {codes[candidate]: votes for candidate, votes in report.votes.items()}
    assert by_code == {"01": 7, "02": 5, "03": 0}
    assert {code: votes for code, votes in (await tallies(sessions, contest.id)).items() if votes} == \
        {"01": 7, "02": 5}
    await assert_tally_invariant(sessions, contest.id)


async def tampered(sessions: Sessions, *statements: str) -> ledger.LedgerReport:
    contest = await run_of_votes(sessions)
    async with sessions.begin() as session:
        for statement in statements:
            await session.execute(text(statement), {"contest": contest.id})
    return await ledger.verify(sessions, contest.id)


async def test_an_entry_edited_by_sql_is_caught(sessions: Sessions) -> None:
    report = await tampered(sessions, "UPDATE ledger_entries SET quantity = 30 WHERE contest_id = :contest AND seq = 3")
    assert report.broken is not None and report.broken.seq == 3
    assert "hash does not match" in report.broken.reason


async def test_an_entry_deleted_by_sql_is_caught(sessions: Sessions) -> None:
    report = await tampered(sessions, "DELETE FROM ledger_entries WHERE contest_id = :contest AND seq = 4")
    assert report.broken is not None and report.broken.seq == 5
    assert "entry 4 is missing" in report.broken.reason


async def test_the_last_entry_deleted_by_sql_is_caught_by_the_head(sessions: Sessions) -> None:
    report = await tampered(sessions, "DELETE FROM ledger_entries WHERE contest_id = :contest AND seq = 8")
    assert report.broken is None and not report.clean
    assert "entries after 7 are missing" in report.problems[0]


async def test_entries_reordered_by_sql_are_caught(sessions: Sessions) -> None:
    report = await tampered(
        sessions,
        "UPDATE ledger_entries SET seq = -2 WHERE contest_id = :contest AND seq = 2",
        "UPDATE ledger_entries SET seq = 2 WHERE contest_id = :contest AND seq = 3",
        "UPDATE ledger_entries SET seq = 3 WHERE contest_id = :contest AND seq = -2")
    assert report.broken is not None and report.broken.seq == 2
    assert "previous hash" in report.broken.reason


async def test_a_tally_changed_by_sql_disagrees_with_the_ledger(sessions: Sessions) -> None:
    report = await tampered(sessions, "UPDATE tallies SET votes = votes + 100 WHERE contest_id = :contest "
                                      "AND votes > 0")
    assert report.broken is None
    assert any("the tallies table" in problem for problem in report.problems)


async def test_an_order_marked_paid_by_sql_disagrees_with_the_ledger(sessions: Sessions) -> None:
    """The tallies still agree with the chain; the order does not (its votes were never counted)."""
    report = await tampered(sessions, "UPDATE vote_orders SET status = 'paid' WHERE contest_id = :contest "
                                      "AND status = 'flagged'")
    assert report.broken is None and not any("tallies table" in problem for problem in report.problems)
    assert [problem for problem in report.problems if problem.startswith("1 orders disagree with the ledger")]
    assert "is paid with 2 votes, the ledger counts 0" in report.problems[-1]


async def test_a_kept_results_sheet_changed_by_sql_is_caught(sessions: Sessions) -> None:
    contest = await run_of_votes(sessions)
    await signing.sign_results(sessions, signing.private_key(TEST_RESULTS_KEY), contest.id, reason="on_demand",
                               signed_by="test")
    assert (await ledger.verify(sessions, contest.id)).clean
    async with sessions.begin() as session:
        await session.execute(text("UPDATE results_sheets SET sheet = sheet || convert_to('x', 'UTF8')"))
    problems = (await ledger.verify(sessions, contest.id)).problems
    assert len(problems) == 1 and "its signature does not hold" in problems[0]
    async with sessions.begin() as session:
        await session.execute(text("UPDATE results_sheets SET entries = entries - 1"))
    assert any("at entry 7 does not match the chain" in p for p in (await ledger.verify(sessions, contest.id)).problems)


async def test_concurrent_votes_in_one_contest_make_one_unbroken_chain(sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules=RULES_OFF)
    orders = [await place(sessions, contest, f"0{1 + i % 5}", quantity=1 + i % 3, msisdn=f"+2376700001{i:02d}")
              for i in range(30)]
    await asyncio.gather(*(confirm(sessions, order, f"C{i}") for i, order in enumerate(orders)))
    report = await ledger.verify(sessions, contest.id)
    assert report.clean, report
    assert report.entries == 30
    assert sum(report.votes.values()) == sum(order.quantity for order in orders)


def test_a_chain_recomputed_in_python_walks_clean_and_any_changed_field_breaks_it() -> None:
    at = datetime(2026, 11, 23, 1, 2, 3, 456789, tzinfo=UTC)
    events = [LedgerEvent("counted", uuid.uuid4(), 1, 3, 300, "XAF", "T1", at),
              LedgerEvent("reversed", uuid.uuid4(), 2, -2, -200, "XAF", None, at)]
    made = list(chain(events))
    assert walk(made).broken is None and walk(made).votes == {1: 3, 2: -2}
    changed = LedgerEvent("counted", events[0].order_id, 1, 3, 300, "XAF", "T2", at)
    assert entry_hash(made[0].prev_hash, changed) != made[0].hash
    # A missing provider id and an empty one are different events.
    empty = LedgerEvent("reversed", events[1].order_id, 2, -2, -200, "XAF", "", at)
    assert entry_hash(made[1].prev_hash, empty) != made[1].hash
