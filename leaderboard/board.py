"""The public board as plain data: ranking with shared ranks, visibility rules, ETags. No I/O here."""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

# The core's one ranking rule, also spoken here under the board's own words.
from gateway.core.contests.ranking import CandidateInfo as CandidateInfo
from gateway.core.contests.ranking import RankedRow as RankedRow
from gateway.core.contests.ranking import rank_candidates as rank_candidates
from gateway.core.contests.round_rules import round_figures
from gateway.core.results.blend import percent_number
from gateway.core.results.jury_parts import PublicJury
from gateway.kit.overlay_cue import UNCUED, OverlayCue


@dataclass(frozen=True, slots=True)
class BoardContest:
    """What the board needs to know about a contest (a few of PublicContest's facts, with candidate ids); read
    from PostgreSQL, cached briefly per process."""

    id: int
    slug: str
    show_counts: bool
    frozen_at: datetime | None
    candidates: tuple[CandidateInfo, ...]  # active and eliminated only: hidden candidates never show
    sealed: bool = False  # sealed until close (gateway.core.contests.ranking.public_board): no tallies are even read
    # A contest decided with a jury: its formula, and the jury's points once revealed; None: the public alone.
    jury: PublicJury | None = None
    free_apart: bool = False  # it gives free votes shown apart: each candidate's `free_votes` beside its `votes`
    # A show in rounds: the round its board shows (its candidates only, each from the figure it started from).
    round: BoardRound | None = None
    lines_close_at: datetime | None = None  # when its lines close (a countdown once it is near)


@dataclass(frozen=True, slots=True)
class BoardRound:
    """The round a contest's board shows: its number and name, and the figure each of its candidates started from
    (gateway.core.contests.rounds): the board shows the tallies less it."""

    number: int
    name: str
    baselines: Mapping[int, int]


@dataclass(frozen=True, slots=True)
class Tallies:
    """Votes per candidate id at one version of the board."""

    version: int
    updated_ms: int  # when these tallies were taken (epoch milliseconds)
    votes: Mapping[int, int]
    # Free votes shown apart from `votes` (gateway.core.orders.free_votes, weight "apart"); none where they are counted
    # in `votes` or the contest gives none.
    free: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A board ready to send: its version, ETag and JSON body (the same bytes for every viewer)."""

    version: int
    etag: str
    body: bytes


def is_frozen(frozen_at: datetime | None, now: datetime) -> bool:
    """The organiser froze the public board from `frozen_at` on; before that moment it is live."""
    return frozen_at is not None and frozen_at <= now


def iso_from_ms(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def shown_tallies(contest: BoardContest, tallies: Tallies) -> Tallies:
    """The figures a board shows: the tallies, or in a show of rounds each candidate's round figure."""
    if contest.round is None:
        return tallies
    return Tallies(tallies.version, tallies.updated_ms, round_figures(tallies.votes, contest.round.baselines),
                   tallies.free)


def lines_part(contest: BoardContest) -> dict[str, object]:
    """The round the board shows and when its lines close: each viewer counts down the last minutes itself."""
    part: dict[str, object] = {}
    if contest.round is not None:
        part["round"] = {"number": contest.round.number, "name": contest.round.name}
    if contest.lines_close_at is not None:
        part["lines_close_at"] = contest.lines_close_at.astimezone(UTC).isoformat(timespec="seconds")
    return part


def public_board(contest: BoardContest, tallies: Tallies, cue: OverlayCue = UNCUED) -> dict[str, object]:
    """The JSON document of the API and the stream; counts are null when the organiser hides them, and a
    sealed board lists nobody (an order of candidates would be a ranking). `overlay`: the broadcast overlay's cue
    from the control room (`gateway.kit.overlay_cue`), which every overlay on the stream follows."""
    if contest.sealed:
        return {"contest": contest.slug, "version": 0, "updated_at": None, "sealed": True, "total_votes": None,
                "candidates": [], "overlay": cue.as_json(), **lines_part(contest)}
    tallies = shown_tallies(contest, tallies)
    if contest.jury is not None:
        return {**jury_board(contest, contest.jury, tallies, cue), **lines_part(contest)}
    rows = rank_candidates(contest.candidates, tallies.votes)
    show = contest.show_counts
    return {
        "contest": contest.slug,
        "version": tallies.version,
        "updated_at": iso_from_ms(tallies.updated_ms),
        "sealed": False,
        "total_votes": sum(row.votes for row in rows) if show else None,
        "candidates": [
            {"code": row.candidate.code, "name": row.candidate.name, "votes": row.votes if show else None,
             "rank": row.rank, **free_votes_of(contest, tallies, row.candidate.id, show)}
            for row in rows
        ],
        "overlay": cue.as_json(),
        **lines_part(contest),
    }


def free_votes_of(contest: BoardContest, tallies: Tallies, candidate_id: int, show: bool) -> dict[str, int | None]:
    """A candidate's `free_votes` beside its `votes`, on a board that shows free votes apart (else nothing)."""
    if not (contest.free_apart or tallies.free):
        return {}
    return {"free_votes": tallies.free.get(candidate_id, 0) if show else None}


def jury_board(contest: BoardContest, jury: PublicJury, tallies: Tallies, cue: OverlayCue) -> dict[str, object]:
    """The board of a contest decided with a jury: its `formula` always; once the jury is revealed, each candidate's
    parts (the public's share, the jury's points and share, the blended score) and the blend's rank. Hidden counts
    keep the public's share and the score hidden too (either would tell the counts). Free votes shown apart stay
    beside each candidate's votes, out of the public's share (as they are out of `votes`)."""
    show = contest.show_counts
    by_code = {c.code: c for c in contest.candidates}
    formula = {**jury.formula.as_json(), "jury_revealed": jury.revealed}
    candidates: list[dict[str, object]] = []
    if not jury.revealed:
        for row in rank_candidates(contest.candidates, tallies.votes):
            candidates.append({"code": row.candidate.code, "name": row.candidate.name,
                               "votes": row.votes if show else None, "rank": row.rank,
                               **free_votes_of(contest, tallies, row.candidate.id, show)})
    else:
        for blended in jury.ranked([(c.id, c.code) for c in contest.candidates], tallies.votes):
            candidates.append({
                "code": blended.code, "name": by_code[blended.code].name, "votes": blended.votes if show else None,
                "rank": blended.rank, "jury_points": blended.points,
                "public_share_pct": percent_number(blended.public_share) if show else None,
                "jury_share_pct": percent_number(blended.jury_share),
                "score_pct": percent_number(blended.score) if show else None,
                **free_votes_of(contest, tallies, by_code[blended.code].id, show)})
    total = sum(tallies.votes.get(c.id, 0) for c in contest.candidates)
    return {"contest": contest.slug, "version": tallies.version, "updated_at": iso_from_ms(tallies.updated_ms),
            "sealed": False, "total_votes": total if show else None,
            "formula": formula, "candidates": candidates, "overlay": cue.as_json()}


def etag_for(contest: BoardContest, version: int, cue: OverlayCue = UNCUED) -> str:
    """The version names the tallies; the checksum names the settings (counts hidden, a candidate
    hidden or renamed, the overlay cued), which an organiser may change with no new vote and so no new version."""
    settings = repr((contest.show_counts, contest.sealed, contest.candidates)).encode()
    if cue != UNCUED:  # the default cue keeps the ETags boards had before there were cues
        settings += repr((cue.shown, cue.layout)).encode()
    if contest.free_apart:  # free votes shown apart add a figure to each candidate with no new vote
        settings += b"free_apart"
    if contest.jury is not None:  # the formula and a reveal change the board with no new vote
        settings += repr((contest.jury.formula, sorted((contest.jury.points or {}).items()))).encode()
    if contest.round is not None or contest.lines_close_at is not None:  # a round opened, lines closed on air
        settings += repr((contest.round, contest.lines_close_at)).encode()
    return f'"{version}-{zlib.crc32(settings):08x}"'


def render(contest: BoardContest, tallies: Tallies, cue: OverlayCue = UNCUED) -> Rendered:
    version = 0 if contest.sealed else tallies.version  # a sealed board's version would count its votes
    body = json.dumps(public_board(contest, tallies, cue), separators=(",", ":"), ensure_ascii=False).encode()
    return Rendered(version, etag_for(contest, version, cue), body)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison against an If-None-Match list (`*` matches anything)."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


def parse_last_event_id(value: str | None) -> int | None:
    """A viewer's `Last-Event-ID`: the board version it already shows; anything else is ignored."""
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def needs_first_frame(current_version: int, last_event_id: int | None) -> bool:
    """Send the current board at once unless the viewer already shows it (or something newer). A board at
    version 0 (sealed, or no vote yet) is always sent: a viewer's id may come from before it was sealed."""
    return last_event_id is None or current_version == 0 or last_event_id < current_version
