"""The live board as the server renders it, what a phone without JavaScript shows: each row's rank, picture, the
bar of its share and the share itself; no share where the counts are hidden or the board is sealed; and every
candidate without a picture on a monogram tile whose initials read at WCAG AA contrast."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp.test_utils import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update

from channels.web.monogram import TONES, initials, tone
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, Contest
from tests.channels.web.candidate_clips import FILES_URL, give_clip
from tests.factories import make_contest
from tests.leaderboard.helpers import confirmed_vote

CSS = (Path(__file__).resolve().parents[3] / "channels/web/static/ballot.css").read_text()
ROW = re.compile(r'<li class="row" (?P<attrs>[^>]*)>(?P<body>.*?)</li>', re.S)
TONE_RULE = re.compile(r"\.mono\.mono-(\d+) \{ background: (#[0-9a-f]{6}); color: (#[0-9a-f]{6}); \}")
PHOTO = "https://img.example/awa.jpg"


def rows_of(html: str) -> list[dict[str, str]]:
    """Each board row as a reader sees it: its data, rank, tile, share, bar length and count."""
    found = []
    for match in ROW.finditer(html):
        attrs = dict(re.findall(r'data-(\w+)="([^"]*)"', match["attrs"]))
        body = match["body"]

        def first(pattern: str, text: str = body) -> str:
            hit = re.search(pattern, text, re.S)
            return hit.group(1) if hit else ""

        found.append({**attrs, "rank_text": first(r'<span class="sr-only">([^<]*)</span>'),
                      "rank_badge": first(r'<span class="rank-n" aria-hidden="true">(\d+)</span>'),
                      "tile": first(r'<(?:img|span) class="(av[^"]*)"'), "img": first(r'<img [^>]*src="([^"]*)"'),
                      "initials": first(r'<span class="av mono[^"]*" aria-hidden="true">([^<]*)</span>'),
                      "share": first(r'<span class="share">([^<]*)</span>'), "bar": first(r'class="fill (w-\d+)"'),
                      "votes": first(r'<span class="votes">([^<]*)</span>')})
    return found


def wcag_luminance(colour: str) -> float:
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((wcag_luminance(first), wcag_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


TONE_COLOURS = {int(n): (background, colour) for n, background, colour in TONE_RULE.findall(CSS)}


async def gala(sessions: Sessions, **overrides: object) -> Contest:
    """Five candidates: 02 with 5 votes, 03 with 3 (62.5% and 37.5%), 01 with a photo, 04 with a clip."""
    contest = await make_contest(sessions, slug="gala", candidates=5, **overrides)
    async with sessions.begin() as session:
        await session.execute(update(Candidate).where(Candidate.contest_id == contest.id, Candidate.code == "01")
                              .values(name="Awa Nkeng", photo_url=PHOTO))
        await session.execute(update(Candidate).where(Candidate.contest_id == contest.id, Candidate.code == "05")
                              .values(name="élodie de la Tour"))
    for code, quantity in (("02", 5), ("03", 3)):
        await confirmed_vote(sessions, contest, code, quantity)
    return contest


async def test_the_board_without_javascript_shows_each_rows_rank_picture_share_and_bar(
        client: TestClient, sessions: Sessions) -> None:
    contest = await gala(sessions)
    clip = await give_clip(sessions, contest, "04")
    for lang, shares in (("en", ["62.5%", "37.5%", "0%", "0%", "0%"]),
                         ("fr", ["62,5\u202f%", "37,5\u202f%", "0\u202f%", "0\u202f%", "0\u202f%"])):
        html = await (await client.get("/c/gala/board", params={"lang": lang})).text()
        rows = rows_of(html)
        assert [(r["code"], r["rank"], r["rank_badge"]) for r in rows] == [
            ("02", "1", "1"), ("03", "2", "2"), ("01", "3", "3"), ("04", "3", "3"), ("05", "3", "3")]
        assert [r["share"] for r in rows] == shares
        assert [r["bar"] for r in rows] == ["w-63", "w-38", "w-0", "w-0", "w-0"]
    html = await (await client.get("/c/gala/board", params={"lang": "en"})).text()
    rows = {r["code"]: r for r in rows_of(html)}
    assert rows["02"]["rank_text"] == "No. 1" and rows["02"]["votes"] == "5 votes"
    assert "8 votes in total" in html
    assert rows["01"]["img"] == PHOTO  # their photo
    assert rows["04"]["img"] == f"{FILES_URL}/{clip}/poster-192.jpg"  # their clip's poster, sized for a tile
    assert rows["02"]["img"] == "" and rows["02"]["initials"] == "C0"  # "Candidate 02": a monogram
    assert rows["02"]["tile"] == f"av mono mono-{tone('Candidate 02')}"
    assert rows["05"]["initials"] == "ÉD"
    # The no-JS page keeps the numbers the script reads: the same shares in tenths of a percent.
    assert re.findall(r'data-code="(\d+)" [^>]*data-share="(\d*)"', html) == [
        ("02", "625"), ("03", "375"), ("01", "0"), ("04", "0"), ("05", "0")]


async def test_the_contest_page_shows_the_same_board_and_monograms_on_its_candidate_tiles(
        client: TestClient, sessions: Sessions) -> None:
    await gala(sessions)
    html = await (await client.get("/c/gala", params={"lang": "en"})).text()
    board = rows_of(html.split('id="board"')[1])
    assert [(r["code"], r["share"]) for r in board][:2] == [("02", "62.5%"), ("03", "37.5%")]
    tiles = re.findall(r'<span class="poster mono mono-(\d+)" aria-hidden="true">([^<]*)</span>', html)
    assert tiles == [(str(tone(f"Candidate 0{n}")), "C0") for n in (2, 3, 4)] + [(str(tone("élodie de la Tour")), "ÉD")]
    assert '<img class="poster" src="https://img.example/awa.jpg"' in html


async def test_hidden_counts_and_a_sealed_board_show_no_share_and_no_bar(client: TestClient,
                                                                          sessions: Sessions) -> None:
    await gala(sessions, show_counts=False)
    for path in ("/c/gala", "/c/gala/board"):
        html = await (await client.get(path, params={"lang": "en"})).text()
        rows = rows_of(html)
        assert [r["code"] for r in rows] == ["02", "03", "01", "04", "05"]  # the ranking, still
        assert not any(r["share"] or r["bar"] or r["votes"] for r in rows)
        assert 'class="bar"' not in html and "%" not in html.split("<body")[1]
    sealed = await make_contest(sessions, slug="sealed", candidates=3, board_sealed=True)
    await confirmed_vote(sessions, sealed, "02", 7)
    for path in ("/c/sealed", "/c/sealed/board"):
        html = await (await client.get(path, params={"lang": "en"})).text()
        assert "The results are sealed until voting is closed." in html
        assert rows_of(html) == [] and 'class="bar"' not in html and 'class="share"' not in html
        assert "%" not in html.split("<body")[1] and "7 votes" not in html


def test_every_monogram_tone_reads_at_aa_contrast() -> None:
    assert sorted(TONE_COLOURS) == list(range(TONES))
    assert all(contrast(background, colour) >= 4.5 for background, colour in TONE_COLOURS.values())


@given(st.text(min_size=1, max_size=40))
def test_any_name_gets_initials_on_a_tone_that_reads_at_aa_contrast(name: str) -> None:
    background, colour = TONE_COLOURS[tone(name)]
    assert contrast(background, colour) >= 4.5
    assert initials(name, "07").strip(), "a tile always says something"


def test_names_spread_over_the_tones() -> None:
    names = [f"Candidate {n:02d}" for n in range(1, 61)] + ["Grace Ndongo", "Awa Nkeng", "Élodie", "Ngozi Okafor"]
    assert len({tone(name) for name in names}) == TONES
    assert [initials(name, "07") for name in ("Grace Ndongo", "awa", "🎤 Star Boy", "🎤🎤", "  ")] == [
        "GN", "A", "SB", "07", "07"]
