"""The board as the server renders it (the first paint, the no-JS page): the ranking the JSON API and the
stream serve, each row with its share of the votes (a bar and a percentage), its rank and its picture."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from channels.web.pictures import Picture, candidate_tile
from gateway.core.contests.catalog import PublicCandidate, PublicContest
from gateway.core.contests.ranking import BoardTop
from gateway.core.service import VOTE_SERVICE

# Who the board shows (as the JSON board does): eliminated candidates keep their place, hidden ones never show.


ROW_PICTURE_PX = 40  # a row's picture as the board shows it (ballot.css .row .av)


@dataclass(frozen=True)
class BoardRow:
    code: str
    name: str
    picture: Picture | None  # their clip's poster, else their photo, in the sizes stored; None: their monogram
    votes: int | None  # None when the organiser hides counts
    rank: int
    share: int | None = None  # tenths of a percent of all votes; None with the counts (it would tell them)


def share_of(votes: int, total: int) -> int:
    """`votes` in tenths of a percent of `total`, halves rounded up (as ballot.js rounds a new frame's)."""
    return (votes * 2000 + total) // (2 * total) if total else 0


def share_text(tenths: int, lang: str) -> str:
    """A share as its language writes it: `42.9%`, `50%` / `42,9 %`, `50 %` (ballot.js writes it the same)."""
    whole, tenth = divmod(tenths, 10)
    number = f"{whole}" if not tenth else f"{whole}{',' if lang == 'fr' else '.'}{tenth}"
    return number + ("\u202f%" if lang == "fr" else "%")


@dataclass(frozen=True)
class Board:
    """The board as the server renders it: the first paint, the no-JS page, the script's last resort."""

    rows: list[BoardRow]
    total: int | None
    frozen: bool
    hidden: bool
    sealed: bool = False


async def server_board(app: web.Application, contest: PublicContest, candidates: list[PublicCandidate]) -> Board:
    """The same board the JSON API and the stream serve (one ranking, one freeze rule), with pictures."""
    pictures = {candidate.code: candidate_tile(app, candidate, ROW_PICTURE_PX) for candidate in candidates}
    return board_rows(await app[VOTE_SERVICE].top(contest.id), pictures)


def board_rows(top: BoardTop, pictures: Mapping[str, Picture | None]) -> Board:
    if top.sealed:
        return Board([], None, False, False, sealed=True)
    show = top.show_counts
    total = sum(row.votes for row in top.rows)
    rows = [BoardRow(row.candidate.code, row.candidate.name, pictures.get(row.candidate.code),
                     row.votes if show else None, row.rank, share_of(row.votes, total) if show else None)
            for row in top.rows]
    return Board(rows, total if show else None, top.frozen, not show)
