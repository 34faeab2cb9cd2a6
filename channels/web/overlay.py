"""The broadcast overlay (`/c/<contest>/overlay`): a 1920×1080 page with a transparent background that a TV
graphics system or OBS (a browser source) lays over the picture: the top candidates with their bars and shares,
a QR code to the contest page and the lines to vote by phone. It follows the board's own stream
(static/overlay.js); a sealed board says only that results come at the close.

Everything is drawn within the graphics-safe area (5 % margins: 1728×972 centred), in one of three layouts: the
full board (`board`), a lower-third strip with the leaders and the codes (`strip`), a corner bug with the top three
and the codes (`corner`). The producer shows or hides it, and may impose a layout, from the control room
(`gateway.kit.overlay_cue`): the cue comes with every board on the stream, so each open overlay follows at once.

Options come in the query and are checked before anything is read: a typo in a broadcast's settings shows as a
clear 400 in the browser source's preview, not as a picture that quietly differs from the one asked for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
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
from gateway.core.contests.rules import VotingState
from gateway.core.errors import DomainError, NotFound
from gateway.core.service import VOTE_SERVICE
from gateway.core.texts import LANGUAGES
from gateway.kit.keys import REDIS
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


def page_data(contest: PublicContest, options: OverlayOptions, tr: Translator) -> dict[str, Any]:
    """What overlay.js needs: its texts, how many rows, its own layout (the cue's, when set, wins), and when a sealed
    board's "voting open" stops being so."""
    keys = ("rank", "overlay_share", "overlay_sealed_open", "overlay_sealed")
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
    context = {"contest": contest, "board": board, "rows": overlay_rows(board, options.top, tr),
               "theme": options.theme, "layout": cue.layout or options.layout, "shown": cue.shown,
               "qr": qr_svg(url, tr("overlay_scan")), "contest_url": url,
               "hint_lines": [slotted(hint.text) for hint in hints], "page_data": page_data(contest, options, tr),
               "sealed_text": tr("overlay_sealed_open" if voting_open else "overlay_sealed")}
    return render(Page(request, tr, remember=False), "overlay.html", context)
