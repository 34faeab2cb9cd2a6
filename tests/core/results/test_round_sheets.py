"""A round's signed results: made from the ledger's entries of the round's own orders (and of the round before when
its board carried the counts), with the round and who went through; its signature holds over its bytes as a
contest sheet's does, and the ledger still verifies with it kept."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update

from gateway.core.audit import Actor
from gateway.core.contests import jury, rounds
from gateway.core.contests.contests_admin import set_candidate_status
from gateway.core.contests.round_rules import RoundPlan
from gateway.core.errors import Conflict
from gateway.core.orders.free_votes import FreeVoteRequest, take_free_vote
from gateway.core.results import ledger, round_sheets, signing
from gateway.core.results.blend import Formula
from gateway.core.results.jury_parts import PublicJury
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, Contest, ContestStatus
from tests.admin.accounts import make_account
from tests.factories import make_contest
from tests.show_rounds import OWNER, a_show, paid_votes, reloaded


def rows(sheet: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(sheet.decode())))


def votes_of(sheet: bytes) -> dict[str, int]:
    return {row[1]: int(row[3]) for row in rows(sheet) if row[0] == "candidate"}


async def decided(sessions: Sessions, contest_id: int, number: int, places: int) -> None:
    closed_at = await rounds.close_lines(sessions, OWNER, contest_id)
    await rounds.decide_round(sessions, OWNER, contest_id, number, places=places,
                              now=closed_at + rounds.DEFAULT_LATE_GRACE)


@pytest.mark.parametrize("carry", [False, True])
async def test_each_rounds_sheet_counts_its_own_votes_and_says_who_went_through(sessions: Sessions,
                                                                               carry: bool) -> None:
    key = Ed25519PrivateKey.generate()
    contest, _ = await a_show(sessions, carry=carry)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    with pytest.raises(Conflict, match="once who goes through is decided"):
        await round_sheets.sign_round(sessions, key, contest.id, 1, signed_by="test")
    await paid_votes(sessions, await reloaded(sessions, contest), {"01": 5, "02": 3, "03": 1, "04": 1})
    await decided(sessions, contest.id, 1, places=2)
    await rounds.open_round(sessions, OWNER, contest.id, 2)
    await paid_votes(sessions, await reloaded(sessions, contest), {"02": 4})
    await decided(sessions, contest.id, 2, places=1)

    heats = await round_sheets.sign_round(sessions, key, contest.id, 1, signed_by="test")
    final = await round_sheets.sign_round(sessions, key, contest.id, 2, signed_by="test")
    assert votes_of(heats.sheet) == {"01": 5, "02": 3, "03": 1, "04": 1}
    assert votes_of(final.sheet) == ({"01": 5, "02": 7} if carry else {"01": 0, "02": 4})
    assert ["round", "1", "Heats", "", "", "result"] in rows(heats.sheet)
    assert [row[1] for row in rows(heats.sheet) if row[0] == "through"] == ["01", "02"]
    assert [row[1] for row in rows(final.sheet) if row[0] == "through"] == ["02"]
    assert signing.signature_holds(key.public_key(), final.sheet, final.signature)
    forged = final.sheet.replace(b"Candidate 02,", b"Candidate 02,1")  # a vote count with a digit put before it
    assert forged != final.sheet and not signing.signature_holds(key.public_key(), forged, final.signature)
    assert (await round_sheets.round_sheet(sessions, contest.slug, 2)) == final
    assert (await ledger.verify(sessions, contest.id)).clean  # a round's sheet is over the same chain


async def test_a_rounds_sheet_is_public_only_once_signed(sessions: Sessions) -> None:
    contest, _ = await a_show(sessions)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    await decided(sessions, contest.id, 1, places=2)
    assert await round_sheets.round_sheet(sessions, contest.slug, 1) is None
    await round_sheets.sign_round(sessions, Ed25519PrivateKey.generate(), contest.id, 1, signed_by="test")
    assert await round_sheets.round_sheet(sessions, contest.slug, 1) is not None


async def test_a_final_decided_with_a_revealed_jury_goes_by_the_blend_and_its_sheet_says_so(
        sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=2, status=ContestStatus.DRAFT, public_weight_pct=50)
    await rounds.plan_round(sessions, OWNER, contest.id,
                            RoundPlan("Final", 100, datetime.now(UTC) + timedelta(hours=1)))
    juror = await make_account(sessions, "jury")
    await jury.seat_juror(sessions, OWNER, contest.id, juror.email)
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    await paid_votes(sessions, await reloaded(sessions, contest), {"01": 3, "02": 1})
    await jury.score(sessions, Actor(juror.id, juror.email, "jury"), contest.id, {"01": 0, "02": 10})
    closed_at = await rounds.close_lines(sessions, OWNER, contest.id)
    await jury.reveal(sessions, OWNER, contest.id, confirmed=True)
    final = await rounds.decide_round(sessions, OWNER, contest.id, 1, places=1,
                                      now=closed_at + rounds.DEFAULT_LATE_GRACE)
    assert [r.candidate.code for r in final.ranked if r.candidate.id in final.through] == ["02"]  # not the most votes
    sheet = await round_sheets.sign_round(sessions, Ed25519PrivateKey.generate(), contest.id, 1, signed_by="test")
    assert [row[1] for row in rows(sheet.sheet) if row[0] == "through"] == ["02"]
    assert [row[1:3] for row in rows(sheet.sheet) if row[0] == "blend"][1:] == [["02", "1"], ["01", "2"]]


async def test_free_votes_counted_as_paid_ones_decide_a_round_as_its_board_shows_and_its_sheet_lists_them(
        sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=2, status=ContestStatus.DRAFT, free_votes_per_day=1,
                                 free_votes_per="round", free_vote_weight="counted")
    await rounds.plan_round(sessions, OWNER, contest.id,
                            RoundPlan("Heats", 100, datetime.now(UTC) + timedelta(hours=1)))
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    await paid_votes(sessions, await reloaded(sessions, contest), {"01": 2, "02": 1})
    for number in ("+237670000201", "+237670000202"):  # two viewers' free vote each, for 02
        await take_free_vote(sessions, FreeVoteRequest(contest.slug, "02", number, "ussd"))
    closed_at = await rounds.close_lines(sessions, OWNER, contest.id)
    heats = await rounds.decide_round(sessions, OWNER, contest.id, 1, places=1,
                                      now=closed_at + rounds.DEFAULT_LATE_GRACE)
    assert [(r.candidate.code, r.votes) for r in heats.ranked] == [("02", 3), ("01", 2)]
    assert [r.candidate.code for r in heats.ranked if r.candidate.id in heats.through] == ["02"]
    sheet = await round_sheets.sign_round(sessions, Ed25519PrivateKey.generate(), contest.id, 1, signed_by="test")
    assert votes_of(sheet.sheet) == {"01": 2, "02": 1}  # the paid votes, as on every sheet
    assert ["free", "02", "Candidate 02", "2", "", "counted"] in rows(sheet.sheet)


def test_a_sheets_blend_counts_free_votes_where_the_organiser_counts_them_as_paid_ones() -> None:
    lines = [signing.SheetLine("01", "Awa", 3, {}, 0), signing.SheetLine("02", "Ben", 2, {}, 2)]
    jury = signing.SheetJury(PublicJury(Formula(50), datetime.now(UTC), {1: 5, 2: 5}), {"01": 1, "02": 2})

    def first(weight: str) -> str:
        sheet = signing.sheet_csv("duo", "Duo", "XAF", lines, 0, b"\0" * 32, datetime.now(UTC), jury, weight)
        return [row[1] for row in rows(sheet) if row[0] == "blend"][1]

    assert first("counted") == "02"  # 4 to 3 with its free votes, as its board and its decision count them
    assert first("apart") == "01"


async def test_a_shows_signed_results_blend_the_final_as_it_was_decided_not_every_rounds_votes(
        sessions: Sessions) -> None:
    """The heats' votes (01 far ahead) are no part of the final's blend: the show's sheet names the final's winner."""
    contest, _ = await a_show(sessions)
    juror = await make_account(sessions, "jury")
    await jury.seat_juror(sessions, OWNER, contest.id, juror.email)
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == contest.id).values(public_weight_pct=50))
    await rounds.open_round(sessions, OWNER, contest.id, 1)
    await paid_votes(sessions, await reloaded(sessions, contest), {"01": 50, "02": 3, "03": 1, "04": 1})
    await decided(sessions, contest.id, 1, places=2)
    await rounds.open_round(sessions, OWNER, contest.id, 2)
    await paid_votes(sessions, await reloaded(sessions, contest), {"01": 10, "02": 12}, first=10)
    await jury.score(sessions, Actor(juror.id, juror.email, "jury"), contest.id, {"01": 5, "02": 5})
    closed_at = await rounds.close_lines(sessions, OWNER, contest.id)
    await jury.reveal(sessions, OWNER, contest.id, confirmed=True)
    final = await rounds.decide_round(sessions, OWNER, contest.id, 2, places=1,
                                      now=closed_at + rounds.DEFAULT_LATE_GRACE)
    assert [r.candidate.code for r in final.ranked if r.candidate.id in final.through] == ["02"]
    sheet = await signing.sign_results(sessions, Ed25519PrivateKey.generate(), contest.id, reason="close",
                                       signed_by="system")
    assert votes_of(sheet.sheet) == {"01": 60, "02": 15, "03": 1, "04": 1}  # the money: every round's votes
    assert [row[1:3] for row in rows(sheet.sheet) if row[0] == "blend"][1:] == [["02", "1"], ["01", "2"]]
    assert [row[1] for row in rows(sheet.sheet) if row[0] == "jury"] == ["01", "02"]  # the final's candidates
    shown = await jury.jury_board(sessions, OWNER, contest.id)  # the organiser's jury page: the same blend
    assert shown.blended is not None and [(b.code, b.rank) for b in shown.blended] == [("02", 1), ("01", 2)]


async def test_a_hidden_candidates_votes_are_no_part_of_the_signed_blend_as_of_the_boards(sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=3, public_weight_pct=50)
    juror = await make_account(sessions, "jury")
    await jury.seat_juror(sessions, OWNER, contest.id, juror.email)
    await paid_votes(sessions, contest, {"01": 3, "02": 1, "03": 96})
    await jury.score(sessions, Actor(juror.id, juror.email, "jury"), contest.id, {"01": 5, "02": 5, "03": 0})
    await set_candidate_status(sessions, OWNER, await candidate_id(sessions, contest.id, "03"), "hidden")
    await jury.reveal(sessions, OWNER, contest.id, confirmed=True)
    sheet = await signing.sign_results(sessions, Ed25519PrivateKey.generate(), contest.id, reason="on_demand",
                                       signed_by="test")
    blend = {row[1]: row[3] for row in rows(sheet.sheet) if row[0] == "blend"}
    assert "03" not in blend and blend["01"] == "75.00" and blend["02"] == "25.00"  # shares of 4 votes, not of 100


async def candidate_id(sessions: Sessions, contest_id: int, code: str) -> int:
    async with sessions() as session:
        found = await session.scalar(select(Candidate.id).where(Candidate.contest_id == contest_id,
                                                                Candidate.code == code))
    assert found is not None
    return found
