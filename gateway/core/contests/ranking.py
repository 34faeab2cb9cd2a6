"""The one ranking rule every channel shows, and the port the core reads a board through.

The leaderboard owns the boards (who is on one, its tallies, a freeze); the core only ranks and asks:
so a frozen board or hidden counts read the same on the web, over USSD and on any later channel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from gateway.db.models import ContestStatus


@dataclass(frozen=True, slots=True)
class CandidateInfo:
    """A candidate as a board shows it."""

    id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class RankedRow:
    candidate: CandidateInfo
    votes: int
    rank: int


class PublicBoard(StrEnum):
    """What a public viewer (web, board API and stream, every channel) may see of a board."""

    COUNTS = "counts"  # ranks and votes
    RANKS = "ranks"  # the organiser hides the counts: ranks only
    SEALED = "sealed"  # sealed until close: neither counts nor ranks, not even the order of the candidates


def public_board(show_counts: bool, sealed: bool, status: ContestStatus) -> PublicBoard:
    """The one rule every public channel obeys. A sealed board opens when the contest is *closed* (its status,
    set by the organiser), not when its voting window ends: late confirmations may still count until then."""
    if sealed and status is not ContestStatus.CLOSED:
        return PublicBoard.SEALED
    return PublicBoard.COUNTS if show_counts else PublicBoard.RANKS


@dataclass(frozen=True, slots=True)
class BoardTop:
    """The first rows of a board as the leaderboard serves it (the frozen snapshot once frozen).

    `votes` are filled in unless sealed: whether to show them (`show_counts`) is the channel's to honour.
    A sealed board has no rows at all, so no channel can leak what it was never given.
    """

    rows: tuple[RankedRow, ...]
    show_counts: bool
    frozen: bool
    sealed: bool = False


class BoardReader(Protocol):
    """What the core needs from the leaderboard: a contest's board, ranked by `rank_candidates`."""

    async def top(self, contest_id: int, n: int | None = None) -> BoardTop:
        """The first `n` rows (all of them with None); NotFound for a contest that is not public."""
        ...


def code_order(code: str) -> tuple[int, str]:
    """Candidates' codes in the order a voter reads them: "9" before "10", "02" after "1"."""
    return (int(code), code) if code.isdigit() else (0, code)


def rank_candidates(candidates: Sequence[CandidateInfo], votes: Mapping[int, int]) -> list[RankedRow]:
    """Most votes first, ties in code order sharing a rank ("competition ranking": 1, 1, 3)."""
    ordered = sorted(candidates, key=lambda c: (-votes.get(c.id, 0), code_order(c.code)))
    rows: list[RankedRow] = []
    for position, candidate in enumerate(ordered, start=1):
        count = votes.get(candidate.id, 0)
        tied = bool(rows) and rows[-1].votes == count
        rows.append(RankedRow(candidate, count, rows[-1].rank if tied else position))
    return rows
