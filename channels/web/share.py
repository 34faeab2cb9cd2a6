"""What a shared link shows: the OpenGraph and Twitter card of a contest's and a candidate's page, the short link
of a candidate, and the plain links that share it (no script, no third-party code on the page).

A card's addresses are absolute (a chat app fetches them with no page around them): the page's from
PUBLIC_BASE_URL, the files' as the media storage serves them (already absolute there, made so here otherwise).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urljoin

from aiohttp import web

from channels.web.i18n import Translator
from gateway.core.contests.catalog import PublicCandidate, PublicContest
from gateway.core.contests.rules import VotingState
from gateway.kit.keys import SETTINGS

BASE62 = string.digits + string.ascii_letters
SHORT_MAX = 6  # base62 of any 32-bit id (the ids' column) fits


def base62(number: int) -> str:
    """A candidate's id as its short link's name: short, stable (ids never change), no table of links to keep."""
    if number < 0:
        raise ValueError("ids are not negative")
    digits = ""
    while True:
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
        if number == 0:
            return digits


def from_base62(text: str) -> int | None:
    """The id a short link names; None when it is not one (only the canonical form: no leading zero)."""
    if not text or len(text) > SHORT_MAX or (len(text) > 1 and text[0] == "0") or any(c not in BASE62 for c in text):
        return None
    number = 0
    for c in text:
        number = number * 62 + BASE62.index(c)
    return number


def absolute(request: web.Request, path_or_url: str) -> str:
    """An address a card may carry: a path (or a storage's relative URL) joined to PUBLIC_BASE_URL."""
    return urljoin(request.app[SETTINGS].public_base_url.rstrip("/") + "/", path_or_url)


@dataclass(frozen=True)
class Card:
    """A page's share card (OpenGraph, and Twitter's from it)."""

    title: str
    description: str
    url: str
    image: str | None = None
    video: str | None = None  # an MP4 a card may play in place (og:video)
    video_width: int | None = None
    video_height: int | None = None

    @property
    def og_type(self) -> str:
        return "video.other" if self.video else "website"

    @property
    def twitter_card(self) -> str:
        return "summary_large_image" if self.image else "summary"


def candidate_image(candidate: PublicCandidate) -> str | None:
    """The poster of their clip, else their photo."""
    return (candidate.clip.poster if candidate.clip else None) or candidate.photo_url


def contest_share(request: web.Request, contest: PublicContest, tr: Translator) -> Card:
    """The contest page's card: its name, how much a vote is, the first poster in the candidates' order (or no
    image: a photo alone would make one candidate the face of the contest)."""
    poster = next((c.clip.poster for c in contest.candidates if c.clip is not None and c.clip.poster), None)
    description = tr("contest_share_description", contest=contest.name,
                     price=tr.money(contest.price_per_vote, contest.currency))
    if contest.voting(datetime.now(UTC)) is VotingState.CLOSED:  # its page is its results now
        description = tr("meta_results", contest=contest.name)
    return Card(contest.name, description, absolute(request, f"/c/{contest.slug}"),
                absolute(request, poster) if poster else None)


def candidate_share(request: web.Request, contest: PublicContest, candidate: PublicCandidate, tr: Translator,
                    how_lines: list[str]) -> Card:
    """A candidate's card: who, in which contest, how to vote by phone (the USSD and SMS lines), their poster and
    clip."""
    image = candidate_image(candidate)
    clip = candidate.clip
    description = " · ".join(how_lines) or tr("cand_share_description", name=candidate.name, contest=contest.name)
    return Card(tr("cand_share_title", name=candidate.name, contest=contest.name), description,
                absolute(request, f"/c/{contest.slug}/{candidate.code}"),
                absolute(request, image) if image else None,
                absolute(request, clip.mp4_360p) if clip else None,
                *(rendition_size(clip.width, clip.height, 360) if clip else (None, None)))


def rendition_size(width: int | None, height: int | None, shorter: int) -> tuple[int | None, int | None]:
    """The size of the rendition whose shorter side is `shorter`, or the source's where it is smaller
    (media.processing scales so, keeping the shape, to even sizes)."""
    if not width or not height:
        return None, None
    scale = min(shorter, width, height) / min(width, height)
    return round(width * scale / 2) * 2, round(height * scale / 2) * 2


def share_links(short_url: str, text: str) -> dict[str, str]:
    """Plain links that share the short link in WhatsApp and on Facebook: they work without a script."""
    return {"whatsapp": f"https://wa.me/?text={quote(f'{text} {short_url}')}",
            "facebook": f"https://www.facebook.com/sharer/sharer.php?u={quote(short_url, safe='')}"}
