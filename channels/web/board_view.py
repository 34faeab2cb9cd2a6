"""The board as the server renders it (the first paint, the no-JS page): the ranking the JSON API and the
stream serve, with photos or initials."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from channels.web.pictures import tile_url
from gateway.core.contests.catalog import PublicCandidate, PublicContest
from gateway.core.contests.ranking import BoardTop
from gateway.core.service import VOTE_SERVICE

# Who the board shows (as the JSON board does): eliminated candidates keep their place, hidden ones never show.


@dataclass(frozen=True)
class BoardRow:
    code: str
    name: str
    photo_url: str | None
    votes: int | None  # None when the organiser hides counts
    rank: int
    photo_thumb: str | None = None  # the photo as a 192 px square (pictures.tile_url), for a list a script draws


def initials(name: str, code: str) -> str:
    """The avatar of a candidate without a photo: no image to download on 3G."""
    return "".join(word[0] for word in name.split()[:2]).upper() or code


def hue(code: str) -> int:
    return int(code) % 6 if code.isdigit() else 0


@dataclass(frozen=True)
class Board:
    """The board as the server renders it: the first paint, the no-JS page, the script's last resort."""

    rows: list[BoardRow]
    total: int | None
    frozen: bool
    hidden: bool
    sealed: bool = False


async def server_board(app: web.Application, contest: PublicContest, candidates: list[PublicCandidate]) -> Board:
    """The same board the JSON API and the stream serve (one ranking, one freeze rule), with photos."""
    photos = {candidate.code: candidate.photo_url for candidate in candidates}
    thumbs = {candidate.code: tile_url(app, candidate.photo_url) for candidate in candidates}
    return board_rows(await app[VOTE_SERVICE].top(contest.id), photos, thumbs)


def board_rows(top: BoardTop, photos: Mapping[str, str | None],
               thumbs: Mapping[str, str | None] | None = None) -> Board:
    if top.sealed:
        return Board([], None, False, False, sealed=True)
    show = top.show_counts
    rows = [BoardRow(row.candidate.code, row.candidate.name, photos.get(row.candidate.code),
                     row.votes if show else None, row.rank, (thumbs or {}).get(row.candidate.code))
            for row in top.rows]
    total = sum(row.votes for row in top.rows) if show else None
    return Board(rows, total, top.frozen, not show)
