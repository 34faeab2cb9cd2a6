"""The blend of the public and a jury, by hand: what each weight makes of the same votes and points, the tie rule,
and a contest nobody voted in or scored."""

from __future__ import annotations

from fractions import Fraction

import pytest

from gateway.core.results.blend import Formula, Standing, blend, percent_text

# The public prefers 01, the jury 02.
STANDINGS = [Standing("01", 60, 10), Standing("02", 30, 30), Standing("03", 10, 10)]


def ranked(weight: int, standings: list[Standing] = STANDINGS) -> list[tuple[str, int, str]]:
    return [(row.code, row.rank, percent_text(row.score)) for row in blend(standings, Formula(weight))]


def test_the_public_alone_ranks_by_votes_and_the_score_is_the_share_of_votes() -> None:
    assert ranked(100) == [("01", 1, "60.00"), ("02", 2, "30.00"), ("03", 3, "10.00")]


def test_the_jury_alone_ranks_by_points() -> None:
    assert ranked(0) == [("02", 1, "60.00"), ("01", 2, "20.00"), ("03", 3, "20.00")]


def test_half_and_half_blends_both_shares() -> None:
    rows = blend(STANDINGS, Formula(50))
    first = rows[0]
    assert (first.code, first.public_share, first.jury_share, first.score) == (
        "02", Fraction(3, 10), Fraction(3, 5), Fraction(9, 20))
    assert ranked(50) == [("02", 1, "45.00"), ("01", 2, "40.00"), ("03", 3, "15.00")]


def test_equal_scores_go_to_more_public_votes_then_share_a_rank_in_code_order() -> None:
    # 01 and 02 both score 30% at 50/50; 02 has more public votes. 3 and 04 are equal in everything.
    standings = [Standing("01", 20, 40), Standing("02", 40, 20), Standing("04", 20, 20), Standing("3", 20, 20)]
    assert [(row.code, row.rank) for row in blend(standings, Formula(50))] == [
        ("02", 1), ("01", 2), ("3", 3), ("04", 3)]


def test_no_votes_and_no_points_everyone_shares_the_first_rank_at_zero() -> None:
    standings = [Standing("10", 0, 0), Standing("9", 0, 0)]
    rows = blend(standings, Formula(50))
    assert [(row.code, row.rank, row.score) for row in rows] == [("9", 1, 0), ("10", 1, 0)]


def test_votes_but_no_jury_points_yet_count_only_the_public_half() -> None:
    assert ranked(50, [Standing("01", 3, 0), Standing("02", 1, 0)]) == [("01", 1, "37.50"), ("02", 2, "12.50")]


def test_a_weight_outside_0_to_100_is_refused() -> None:
    with pytest.raises(ValueError):
        Formula(101)


def test_percentages_round_half_up() -> None:
    assert (percent_text(Fraction(1, 3)), percent_text(Fraction(2, 3)), percent_text(Fraction(1, 8))) == (
        "33.33", "66.67", "12.50")
