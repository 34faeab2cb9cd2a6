"""The board JSON of a contest decided with a jury, as plain data: the formula from the start, the jury's parts and the
blend's ranks once revealed, hidden counts hiding the public's share and the score, free votes kept apart, and a new
ETag when the jury is revealed though no vote came."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.core.results.blend import Formula
from gateway.core.results.jury_parts import PublicJury
from leaderboard.board import BoardContest, CandidateInfo, Tallies, etag_for, public_board

CANDIDATES = (CandidateInfo(1, "01", "Awa"), CandidateInfo(2, "02", "Blaise"))
TALLIES = Tallies(4, 0, {1: 3, 2: 1})
SEALED_JURY = PublicJury(Formula(50))
REVEALED = PublicJury(Formula(50), datetime(2026, 11, 28, tzinfo=UTC), {2: 10})


def board(jury: PublicJury, show_counts: bool = True, free_apart: bool = False,
          tallies: Tallies = TALLIES) -> dict[str, Any]:
    contest = BoardContest(7, "duo", show_counts, None, CANDIDATES, jury=jury, free_apart=free_apart)
    return public_board(contest, tallies)


def test_before_the_reveal_the_board_ranks_by_votes_and_says_only_the_formula() -> None:
    sealed = board(SEALED_JURY)
    assert sealed["formula"] == {"public_weight_pct": 50, "jury_weight_pct": 50, "jury_revealed": False}
    assert sealed["candidates"] == [{"code": "01", "name": "Awa", "votes": 3, "rank": 1},
                                    {"code": "02", "name": "Blaise", "votes": 1, "rank": 2}]


def test_after_the_reveal_each_candidate_has_its_parts_and_the_blends_rank() -> None:
    revealed = board(REVEALED)
    assert revealed["total_votes"] == 4 and revealed["formula"]["jury_revealed"] is True
    assert revealed["candidates"] == [
        {"code": "02", "name": "Blaise", "votes": 1, "rank": 1, "jury_points": 10, "public_share_pct": 25.0,
         "jury_share_pct": 100.0, "score_pct": 62.5},
        {"code": "01", "name": "Awa", "votes": 3, "rank": 2, "jury_points": 0, "public_share_pct": 75.0,
         "jury_share_pct": 0.0, "score_pct": 37.5}]


def test_hidden_counts_hide_the_publics_share_and_the_score_but_not_the_jurys() -> None:
    hidden = board(REVEALED, show_counts=False)
    assert hidden["total_votes"] is None
    assert [(c["code"], c["votes"], c["public_share_pct"], c["jury_share_pct"], c["score_pct"])
            for c in hidden["candidates"]] == [("02", None, None, 100.0, None), ("01", None, None, 0.0, None)]


def test_free_votes_shown_apart_stay_beside_the_votes_out_of_the_publics_share() -> None:
    apart = board(REVEALED, free_apart=True, tallies=Tallies(4, 0, {1: 3, 2: 1}, free={1: 2}))
    assert [(c["code"], c["votes"], c["free_votes"], c["public_share_pct"]) for c in apart["candidates"]] == [
        ("02", 1, 0, 25.0), ("01", 3, 2, 75.0)]


def test_the_reveal_changes_the_etag_with_no_new_vote() -> None:
    etags = {etag_for(BoardContest(7, "duo", True, None, CANDIDATES, jury=jury), 4)
             for jury in (SEALED_JURY, REVEALED)}
    assert len(etags) == 2
