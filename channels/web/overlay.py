"""The broadcast overlay (`/c/<contest>/overlay`): a 1920×1080 page with a transparent background that a TV
graphics system or OBS (a browser source) lays over the picture: the top candidates with their bars and shares,
a QR code to the contest page and the lines to vote by phone. It follows the board's own stream
(static/overlay.js); a sealed board says only that results come at the close.

A contest decided with a jury says its formula under the title; once the jury is revealed, its rows are in the blend's
order, each with its parts (the public's share, the jury's) where the votes were and its blended score as its share
and bar (the board's JSON carries the same, gateway.core.results.blend). Before the reveal, nothing of the jury shows.

Everything is drawn within the graphics-safe area (5 % margins: 1728×972 centred), in one of three layouts: the
full board (`board`), a lower-third strip with the leaders and the codes (`strip`), a corner bug with the top three
and the codes (`corner`). The producer shows or hides it, and may impose a layout, from the control room
(`gateway.kit.overlay_cue`): the cue comes with every board on the stream, so each open overlay follows at once.

Options come in the query and are checked before anything is read: a typo in a broadcast's settings shows as a
clear 400 in the browser source's preview, not as a picture that quietly differs from the one asked for."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import segno
from aiohttp import web
from markupsafe import Markup
from redis.exceptions import RedisError

from channels.web.board_view import Board, server_board
from channels.web.candidate_pages import vote_hints
from channels.web.i18n import Translator
from channels.web.pages import contest_missing
from channels.web.rendering import Page, html_errors, render
from channels.web.share import absolute
from gateway.core.contests.catalog import PublicContest
from gateway.core.contests.ranking import BoardTop
from gateway.core.contests.rules import VotingState
from gateway.core.errors import DomainError, NotFound
from gateway.core.results.blend import Blended, percent_number
from gateway.core.results.jury_parts import PublicJury, public_jury
from gateway.core.service import VOTE_SERVICE
from gateway.core.texts import LANGUAGES
from gateway.kit.keys import REDIS, SESSIONS
from gateway.kit.overlay_cue import LAYOUTS, OverlayCue, read_cue

routes = web.RouteTableDef()

TOP_MIN, TOP_MAX, TOP_DEFAULT = 1, 12, 5  # 12 rows still read on a TV picture and fit its height
THEMES = ("dark", "light")
# Stands for a candidate's code when a channel writes its line: the overlay names no one candidate (each row
# shows its code), so its lines say where a code goes, in each channel's own words and syntax.
CODE_SLOT = "{code}"


class InvalidOverlayOption(DomainError):
    status = 400
    code = "invalid_option"


@dataclass(frozen=True)
class OverlayOptions:
    top: int = TOP_DEFAULT
    theme: str = THEMES[0]
    lang: str | None = None  # None: the contest's own language (never the browser's: OBS's is anyone's)
    layout: str = LAYOUTS[0]  # this overlay's own layout, unless the control room imposes one


def overlay_options(query: Mapping[str, str]) -> OverlayOptions:
    """The query's options, or InvalidOverlayOption naming the first that is not one; others are ignored (a
    graphics system may add its own, e.g. to defeat a cache)."""
    top = query.get("top", str(TOP_DEFAULT)).strip()
    if not (top.isascii() and top.isdecimal() and len(top) <= 2 and TOP_MIN <= int(top) <= TOP_MAX):
        raise InvalidOverlayOption(f"top: a whole number from {TOP_MIN} to {TOP_MAX}.", field="top")
    theme = query.get("theme", THEMES[0])
    if theme not in THEMES:
        raise InvalidOverlayOption(f"theme: one of {', '.join(THEMES)}.", field="theme")
    lang = query.get("lang")
    if lang is not None and lang not in LANGUAGES:
        raise InvalidOverlayOption(f"lang: one of {', '.join(LANGUAGES)}.", field="lang")
    layout = query.get("layout", LAYOUTS[0])
    if layout not in LAYOUTS:
        raise InvalidOverlayOption(f"layout: one of {', '.join(LAYOUTS)}.", field="layout")
    return OverlayOptions(int(top), theme, lang, layout)


def share_tenths(votes: int, total: int) -> int:
    """A candidate's share of all votes in tenths of a percent, rounded half up (overlay.js rounds the same)."""
    return (votes * 1000 + total // 2) // total if total > 0 else 0


def share_text(tenths: int, tr: Translator) -> str:
    decimal = "," if tr.lang == "fr" else "."
    return tr("overlay_share", share=f"{tenths // 10}{decimal}{tenths % 10}")


def qr_svg(url: str, title: str) -> Markup:
    """The contest page's address as an inline SVG (no image to fetch, sharp at any size); dark on white with
    its quiet zone, so a phone reads it over any picture."""
    qr = segno.make(url, error="m")
    return Markup(qr.svg_inline(scale=1, border=2, dark="#000", light="#fff", omitsize=True, title=title,
                                svgclass="qr-code"))


def slotted(text: str) -> list[str]:
    """A channel's line cut where a candidate's code goes (the template puts the word "code" there)."""
    return text.split(CODE_SLOT)


def overlay_rows(board: Board, top: int, tr: Translator) -> list[dict[str, Any]]:
    rows = []
    for row in board.rows[:top]:
        tenths = share_tenths(row.votes, board.total) if row.votes is not None and board.total else None
        rows.append({"code": row.code, "name": row.name, "rank": row.rank, "votes": row.votes,
                     "votes_text": tr.votes(row.votes) if row.votes is not None else "",
                     "tenths": tenths, "share": share_text(tenths, tr) if tenths is not None else ""})
    return rows


def score_tenths(share: Fraction) -> int:
    """A share as the board's JSON gives it (a percentage with two decimals) in tenths of a percent, halves up
    (overlay.js reads the JSON's number the same way)."""
    return math.floor(percent_number(share) * 10 + 0.5)


def parts_text(row: Blended, counts_shown: bool, tr: Translator) -> str:
    jury = share_text(score_tenths(row.jury_share), tr)
    if not counts_shown:  # the public's share would tell the counts the organiser hides
        return tr("overlay_jury_part", jury=jury)
    return tr("overlay_parts", public=share_text(score_tenths(row.public_share), tr), jury=jury)


def blended_rows(board: Board, top: BoardTop, jury: PublicJury, n: int, tr: Translator) -> list[dict[str, Any]]:
    """The rows of a revealed jury's board: in the blend's order and ranks, the parts beside each, its score as its
    share (none where the counts are hidden)."""
    by_code = {row.code: row for row in board.rows}
    ranked = jury.ranked([(row.candidate.id, row.candidate.code) for row in top.rows],
                         {row.candidate.id: row.votes for row in top.rows})
    rows = []
    for blended in ranked[:n]:
        row = by_code[blended.code]
        shown = row.votes is not None
        tenths = score_tenths(blended.score) if shown else None
        rows.append({"code": row.code, "name": row.name, "rank": blended.rank, "votes": row.votes,
                     "votes_text": parts_text(blended, shown, tr), "tenths": tenths,
                     "share": share_text(tenths, tr) if tenths is not None else ""})
    return rows


async def shown_jury(app: web.Application, contest_id: int) -> PublicJury | None:
    """The contest's jury as the public may see it; None for a contest of the public alone."""
    async with app[SESSIONS]() as session:
        jury = await public_jury(session, contest_id)
    return jury if jury.shown else None


def page_data(contest: PublicContest, options: OverlayOptions, tr: Translator) -> dict[str, Any]:
    """What overlay.js needs: its texts, how many rows, its own layout (the cue's, when set, wins), and when a sealed
    board's "voting open" stops being so."""
    keys = ("rank", "overlay_share", "overlay_sealed_open", "overlay_sealed", "overlay_formula", "overlay_parts",
            "overlay_jury_part", "lines_countdown", "lines_closed")
    return {"lang": tr.lang, "top": options.top, "layout": options.layout,
            "closes_at_ms": int(contest.closes_at.timestamp() * 1000),
            "strings": {**{key: tr(key) for key in keys}, "vote_one": tr.vote_form(1), "vote_many": tr.vote_form(2)}}


async def current_cue(app: web.Application, contest_id: int) -> OverlayCue:
    """The control room's cue as the page opens (the stream brings every later one); Redis away: shown."""
    try:
        return await read_cue(app[REDIS], contest_id)
    except (RedisError, OSError):
        return OverlayCue()


@routes.get("/c/{slug}/overlay", name="contest_overlay")
@html_errors
async def overlay_page(request: web.Request) -> web.StreamResponse:
    try:
        options = overlay_options(request.query)
    except InvalidOverlayOption as exc:
        return web.json_response(exc.as_json(), status=exc.status)
    try:
        contest = await request.app[VOTE_SERVICE].contest(request.match_info["slug"], channel_fields=True)
    except NotFound:
        return contest_missing(request)
    tr = Translator(options.lang or contest.default_language)
    board = await server_board(request.app, contest, list(contest.candidates))
    hints = await vote_hints(request.app, contest, CODE_SLOT, tr.lang)
    url = absolute(request, f"/c/{contest.slug}")
    voting_open = contest.voting(datetime.now(UTC)) is VotingState.OPEN
    cue = await current_cue(request.app, contest.id)
    jury = None if board.sealed else await shown_jury(request.app, contest.id)
    rows = overlay_rows(board, options.top, tr)
    if jury is not None and jury.revealed:
        rows = blended_rows(board, await request.app[VOTE_SERVICE].top(contest.id), jury, options.top, tr)
    formula = (tr("overlay_formula", public=jury.formula.public_weight_pct, jury=jury.formula.jury_weight_pct)
               if jury is not None else "")
    context = {"contest": contest, "board": board, "rows": rows, "formula": formula,
               "theme": options.theme, "layout": cue.layout or options.layout, "shown": cue.shown,
               "qr": qr_svg(url, tr("overlay_scan")), "contest_url": url,
               "hint_lines": [slotted(hint.text) for hint in hints], "page_data": page_data(contest, options, tr),
               "sealed_text": tr("overlay_sealed_open" if voting_open else "overlay_sealed")}
    return render(Page(request, tr, remember=False), "overlay.html", context)
