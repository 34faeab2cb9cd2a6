"""How the public and a jury make one result: pure arithmetic, so a sheet's reader can redo it by hand.

Each candidate's public share is their votes over all votes, their jury share their points (every juror's,
added up) over all points. The blended score is `public_weight_pct`% of the public share plus the rest of the
jury share: with 100 the public alone decides, with 0 the jury alone, with 50 each counts half.

Ranking: the higher blended score first; at equal scores, more public votes first; equal in both, the same rank
(competition ranking: 1, 1, 3), listed in code order. With the public alone this is the board's own ranking.
Shares and scores are exact fractions: rounding is only for showing them (`percent_text`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

ZERO = Fraction(0)


@dataclass(frozen=True, slots=True)
class Formula:
    """The organiser's formula: the public's weight in percent, the jury's the rest."""

    public_weight_pct: int

    def __post_init__(self) -> None:
        if not 0 <= self.public_weight_pct <= 100:
            raise ValueError("public_weight_pct is a whole percentage from 0 to 100")

    @property
    def jury_weight_pct(self) -> int:
        return 100 - self.public_weight_pct

    @property
    def public_only(self) -> bool:
        return self.public_weight_pct == 100

    def as_json(self) -> dict[str, int]:
        return {"public_weight_pct": self.public_weight_pct, "jury_weight_pct": self.jury_weight_pct}

    def describe(self) -> str:
        """The formula in words, as the signed sheet writes it."""
        return (f"{self.public_weight_pct}% public share of votes + {self.jury_weight_pct}% jury share of points")


@dataclass(frozen=True, slots=True)
class Standing:
    """What a candidate brings: their code, public votes and jury points."""

    code: str
    votes: int
    points: int


@dataclass(frozen=True, slots=True)
class Blended:
    code: str
    votes: int
    points: int
    public_share: Fraction  # 0 to 1
    jury_share: Fraction
    score: Fraction  # the blend, 0 to 1
    rank: int


def code_order(code: str) -> tuple[int, str]:
    """Codes as a voter reads them: "9" before "10" (the board's order)."""
    return (int(code), code) if code.isdigit() else (0, code)


def share(part: int, whole: int) -> Fraction:
    return Fraction(part, whole) if whole > 0 else ZERO


def blend(standings: Sequence[Standing], formula: Formula) -> list[Blended]:
    """Every candidate's shares and blended score, ranked (see the module's ranking rule)."""
    votes_total = sum(s.votes for s in standings)
    points_total = sum(s.points for s in standings)
    public_weight = Fraction(formula.public_weight_pct, 100)
    scored = [(s, share(s.votes, votes_total), share(s.points, points_total)) for s in standings]
    scored.sort(key=lambda item: (-(public_weight * item[1] + (1 - public_weight) * item[2]), -item[0].votes,
                                  code_order(item[0].code)))
    rows: list[Blended] = []
    for position, (standing, public, jury) in enumerate(scored, start=1):
        score = public_weight * public + (1 - public_weight) * jury
        tied = bool(rows) and (rows[-1].score, rows[-1].votes) == (score, standing.votes)
        rows.append(Blended(standing.code, standing.votes, standing.points, public, jury, score,
                            rows[-1].rank if tied else position))
    return rows


def percent_text(value: Fraction, places: int = 2) -> str:
    """A share as a percentage with `places` decimals, halves rounded up: 1/3 -> "33.33", 2/3 -> "66.67"."""
    scale = 10 ** places
    hundredths = (value * 100 * scale * 2 + 1) // 2  # floor(x + 1/2): exact, on a Fraction
    whole, part = divmod(int(hundredths), scale)
    return f"{whole}.{part:0{places}d}" if places else str(whole)


def percent_number(value: Fraction, places: int = 2) -> float:
    """The same rounded percentage as a JSON number."""
    return float(percent_text(value, places))
