"""The rules of a show's rounds as pure functions: who goes through, and the figure each round's board starts from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.core.contests.price_tiers import PriceTier
from gateway.core.contests.ranking import CandidateInfo, RankedRow, rank_candidates
from gateway.core.errors import DomainError


@dataclass(frozen=True)
class RoundPlan:
    """A round as an organiser sets it up before it opens."""

    name: str
    price_per_vote: int  # minor units of the contest's currency
    closes_at: datetime  # the latest its lines close; a producer may close them earlier on air
    carry_counts: bool = False  # its board starts from the previous round's figures, not from zero
    price_tiers: tuple[PriceTier, ...] = ()  # its bundles (gateway.core.contests.price_tiers)


def check_plan(plan: RoundPlan, now: datetime) -> RoundPlan:
    name = plan.name.strip()
    if not name or len(name) > 200:
        raise DomainError("A round needs a name of at most 200 characters.", code="invalid_field", field="name")
    if isinstance(plan.price_per_vote, bool) or not isinstance(plan.price_per_vote, int) or plan.price_per_vote < 1:
        raise DomainError("A round's price of a vote must be a positive amount.", code="invalid_field",
                          field="price_per_vote")
    if plan.closes_at <= now:
        raise DomainError("A round's lines must close in the future.", code="invalid_field", field="closes_at")
    return RoundPlan(name, plan.price_per_vote, plan.closes_at, plan.carry_counts, plan.price_tiers)


def starting_figures(still_in: Sequence[int], tallies: Mapping[int, int], previous: Mapping[int, int] | None,
                     carry_counts: bool) -> dict[int, int]:
    """What each candidate still in starts the round from, as a baseline the tally is read against (the round's
    figure is the tally less it): a board from zero starts at the tally now; a board that carries the counts keeps
    the previous round's baseline (so it goes on showing that round's figures and adds this one's)."""
    if carry_counts:
        return {candidate: (previous or {}).get(candidate, 0) for candidate in still_in}
    return {candidate: tallies.get(candidate, 0) for candidate in still_in}


def round_figures(tallies: Mapping[int, int], baselines: Mapping[int, int]) -> dict[int, int]:
    """A round's figure per candidate in it: its tally less the figure its round started from."""
    return {candidate: max(0, tallies.get(candidate, 0) - start) for candidate, start in baselines.items()}


# The tie rule, printed beside a decision by result: candidates tied at the last place that goes through all go
# through. Nobody is sent home by a coin or by the order their codes were given in.
TIE_RULE = "Candidates tied at the last place that goes through all go through."


def through_by_result(ranked: Sequence[RankedRow], places: int) -> list[CandidateInfo]:
    """The candidates going through by the round's result (its votes, or the blend with a revealed jury): the first
    `places`, and everyone sharing the rank of the last of them (`TIE_RULE`)."""
    if places < 1:
        raise DomainError("At least one candidate must go through.", code="invalid_field", field="places")
    if places >= len(ranked):
        return [row.candidate for row in ranked]
    cut = ranked[places - 1].rank
    return [row.candidate for index, row in enumerate(ranked) if index < places or row.rank == cut]


def ranked_by_blend(candidates: Sequence[CandidateInfo], blended: Sequence[tuple[str, int, int]]) -> list[RankedRow]:
    """A round's standing in the blend's order, from its (code, votes, rank) rows."""
    by_code = {candidate.code: candidate for candidate in candidates}
    return [RankedRow(by_code[code], votes, rank) for code, votes, rank in blended]


def through_by_hand(candidates: Sequence[CandidateInfo], codes: Sequence[str],
                    reason: str | None) -> list[CandidateInfo]:
    """The candidates an organiser chose by hand: each code one of the round's, and a reason to keep."""
    if not reason or not reason.strip():
        raise DomainError("Say why, when choosing who goes through by hand: it is kept in the audit log.",
                          code="invalid_field", field="reason")
    by_code = {candidate.code: candidate for candidate in candidates}
    unknown = [code for code in codes if code not in by_code]
    if unknown:
        raise DomainError(f"Not a candidate of this round: {', '.join(unknown)}.", code="invalid_field",
                          field="through")
    if not codes:
        raise DomainError("At least one candidate must go through.", code="invalid_field", field="through")
    return [by_code[code] for code in dict.fromkeys(codes)]


def ranked_round(candidates: Sequence[CandidateInfo], figures: Mapping[int, int]) -> list[RankedRow]:
    return rank_candidates(candidates, figures)
