"""The ledger's periodic rounds: a checkpoint each hour the chain grew, and at close a checkpoint and
a signed results sheet; a ledger that does not verify is never signed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text, update

from gateway.core.contests import round_rules, rounds
from gateway.core.orders import counting
from gateway.core.results import ledger, signing
from gateway.core.results.checkpoints import checkpoint_pass
from gateway.db.engine import Sessions
from gateway.db.models import Contest, ContestStatus, LedgerCheckpoint, ResultsSheet
from tests.factories import RULES_OFF, TEST_RESULTS_KEY, make_contest, place
from tests.show_rounds import OWNER, a_show, paid_votes, reloaded

KEY = signing.private_key(TEST_RESULTS_KEY)


async def vote(sessions: Sessions, contest: Contest, msisdn: str) -> None:
    order = await place(sessions, contest, "01", quantity=2, msisdn=msisdn)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, msisdn,
                                   provider=order.provider)


async def close(sessions: Sessions, contest: Contest) -> None:
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == contest.id).values(status=ContestStatus.CLOSED))


async def count(sessions: Sessions, model: type[LedgerCheckpoint] | type[ResultsSheet]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_checkpoint_each_hour_the_chain_grew_then_one_at_close_with_a_signed_sheet(sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala", fraud_rules=RULES_OFF)
    idle = await make_contest(sessions, slug="idle")  # no vote yet, not closed: nothing to checkpoint
    now = datetime.now(UTC)
    assert await checkpoint_pass(sessions, KEY, now) == []
    await vote(sessions, contest, "+237670000001")
    assert await checkpoint_pass(sessions, KEY, now) == ["gala:hourly"]
    await vote(sessions, contest, "+237670000002")
    assert await checkpoint_pass(sessions, KEY, now + timedelta(minutes=30)) == []  # within the hour
    assert await checkpoint_pass(sessions, KEY, now + timedelta(minutes=61)) == ["gala:hourly"]
    assert await checkpoint_pass(sessions, KEY, now + timedelta(minutes=150)) == []  # nothing new since

    late = await place(sessions, contest, "02", quantity=1, msisdn="+237670000003")  # its prompt is out at close
    await close(sessions, contest)
    assert await checkpoint_pass(sessions, KEY, now) == ["gala:close", "gala:signed"]
    assert await checkpoint_pass(sessions, KEY, now) == []  # once
    sheet = await signing.latest_sheet(sessions, "gala")
    assert sheet is not None and sheet.entries == 2 and b"candidate,01,Candidate 01,4,400,XAF" in sheet.sheet
    assert signing.signature_holds(KEY.public_key(), sheet.sheet, sheet.signature)
    assert idle.slug == "idle" and await count(sessions, LedgerCheckpoint) == 3

    # A payment whose prompt went out before close, confirmed after: an hour on, a checkpoint and a new sheet.
    await counting.confirm_payment(sessions, late.id, "SUCCESSFUL", late.amount, late.currency, "LATE",
                                   provider=late.provider)
    assert await checkpoint_pass(sessions, KEY, now + timedelta(minutes=61)) == ["gala:hourly", "gala:signed"]
    latest = await signing.latest_sheet(sessions, "gala")
    assert latest is not None and latest.reason == "after_close" and latest.entries == 3


async def test_a_ledger_that_does_not_verify_is_not_signed_at_close(sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala", fraud_rules=RULES_OFF)
    await vote(sessions, contest, "+237670000001")
    async with sessions.begin() as session:
        await session.execute(text("UPDATE ledger_entries SET quantity = 20 WHERE contest_id = :c"), {"c": contest.id})
    await close(sessions, contest)
    assert await checkpoint_pass(sessions, KEY, datetime.now(UTC)) == ["gala:close"]
    assert await checkpoint_pass(sessions, KEY, datetime.now(UTC)) == []  # tried again, refused again
    assert await count(sessions, ResultsSheet) == 0

    # Mended (restored from a backup, say): the next pass signs the close's sheet, once.
    async with sessions.begin() as session:
        await session.execute(text("UPDATE ledger_entries SET quantity = 2 WHERE contest_id = :c"), {"c": contest.id})
    assert await checkpoint_pass(sessions, KEY, datetime.now(UTC)) == ["gala:signed"]
    assert await checkpoint_pass(sessions, KEY, datetime.now(UTC)) == []
    sheet = await signing.latest_sheet(sessions, "gala")
    assert sheet is not None and sheet.reason == "close" and sheet.entries == 1


async def test_a_pass_cut_short_after_the_close_checkpoint_signs_the_sheet_next_time(sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala", fraud_rules=RULES_OFF)
    await vote(sessions, contest, "+237670000001")
    await close(sessions, contest)
    async with sessions.begin() as session:  # the pass took the close checkpoint, then its process died
        await ledger.take_checkpoint(session, contest.id, "close")
    assert await signing.latest_sheet(sessions, "gala") is None
    assert await checkpoint_pass(sessions, KEY, datetime.now(UTC)) == ["gala:signed"]
    sheet = await signing.latest_sheet(sessions, "gala")
    assert sheet is not None and sheet.reason == "close" and b"candidate,01,Candidate 01,2,200,XAF" in sheet.sheet
    assert await count(sessions, LedgerCheckpoint) == 1  # no second close checkpoint


async def test_a_pass_takes_and_reports_the_contests_oldest_first(sessions: Sessions) -> None:
    first = await make_contest(sessions, slug="first", fraud_rules=RULES_OFF)
    second = await make_contest(sessions, slug="second", fraud_rules=RULES_OFF)
    await vote(sessions, second, "+237670000002")  # the newer contest's ledger begins first
    await vote(sessions, first, "+237670000001")
    async with sessions.begin() as session:  # the older contest's row written again: its new version lies last
        await session.execute(update(Contest).where(Contest.id == first.id).values(name="First, renamed"))
    now = datetime.now(UTC)
    assert await checkpoint_pass(sessions, KEY, now) == ["first:hourly", "second:hourly"]
    await close(sessions, second)
    await close(sessions, first)
    assert await checkpoint_pass(sessions, KEY, now) == ["first:close", "first:signed", "second:close",
                                                         "second:signed"]


async def test_a_show_in_rounds_is_signed_at_its_final_close_never_at_a_rounds(sessions: Sessions) -> None:
    contest, _ = await a_show(sessions)  # the heats and the final, planned ahead
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    await paid_votes(sessions, await reloaded(sessions, contest), {"01": 5, "02": 3})
    heats_closed = await rounds.close_lines(sessions, OWNER, contest.id)
    between = await checkpoint_pass(sessions, KEY, heats_closed + timedelta(seconds=1))
    assert f"{contest.slug}:close" not in between  # the final is still to come: nothing is the show's result yet
    assert await signing.latest_sheet(sessions, contest.slug) is None
    await the_final_is_signed_at_its_close(sessions, contest, heats_closed)


async def test_a_round_planned_after_the_show_seemed_over_is_signed_again_at_its_close(sessions: Sessions) -> None:
    now = datetime.now(UTC)
    contest = await make_contest(sessions, candidates=3, status=ContestStatus.DRAFT, price_per_vote=100)
    await rounds.plan_round(sessions, OWNER, contest.id, round_rules.RoundPlan("Heats", 100, now + timedelta(hours=2)))
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    await paid_votes(sessions, await reloaded(sessions, contest), {"01": 5, "02": 3})
    heats_closed = await rounds.close_lines(sessions, OWNER, contest.id)
    # No round planned after it: for all anyone knew, the show was over.
    assert await checkpoint_pass(sessions, KEY, heats_closed + timedelta(seconds=1)) == [
        f"{contest.slug}:close", f"{contest.slug}:signed"]
    await rounds.plan_round(sessions, OWNER, contest.id, round_rules.RoundPlan("Final", 200, now + timedelta(hours=4)))
    # The final's close is the show's: checkpointed and signed again, with the final's votes.
    final_closed = await the_final_is_signed_at_its_close(sessions, contest, heats_closed)
    assert await checkpoint_pass(sessions, KEY, final_closed + timedelta(seconds=2)) == []  # once


async def the_final_is_signed_at_its_close(sessions: Sessions, contest: Contest, heats_closed: datetime) -> datetime:
    """The heats decided, the final run (01 and 02 voted for) and closed: the next pass checkpoints and signs the
    show's results, every round's votes on the sheet. When the final closed."""
    await rounds.decide_round(sessions, OWNER, contest.id, 1, places=2,
                              now=heats_closed + rounds.DEFAULT_LATE_GRACE)
    await rounds.open_round(sessions, OWNER, contest.id, 2)
    await paid_votes(sessions, await reloaded(sessions, contest), {"01": 1, "02": 4}, first=10)
    final_closed = await rounds.close_lines(sessions, OWNER, contest.id)
    assert await checkpoint_pass(sessions, KEY, final_closed + timedelta(seconds=1)) == [
        f"{contest.slug}:close", f"{contest.slug}:signed"]
    sheet = await signing.latest_sheet(sessions, contest.slug)
    assert sheet is not None and sheet.reason == "close" and sheet.entries == 4
    return final_closed
