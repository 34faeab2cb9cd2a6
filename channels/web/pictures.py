"""A candidate's photo or a clip's poster as an `<img>` shows it: the sized copies the storage serves
(gateway.core.media_storage.PICTURE_SIZES) in a `srcset`, so a phone fetches the one its screen needs (a 96 px tile
on a 2.6x screen: the 192 px copy, 10 KB, not the 800 px photo's 55). A URL the storage does not know (a photo
from elsewhere) is shown as it is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from gateway.core.contests.catalog import PublicCandidate
from gateway.core.media_storage import PHOTO_SIZES, TILE_SIZES, sized_url
from gateway.kit.keys import MEDIA_STORAGE

TILE = "tile"  # a square box of at most 96 CSS px (lists, a photo beside a clip), cropped from the middle
PHOTO = "photo"  # a photo 320 CSS px wide, as tall as it is
BOXES = {TILE: TILE_SIZES, PHOTO: PHOTO_SIZES}


@dataclass(frozen=True)
class Picture:
    src: str
    srcset: str = ""  # empty: the original alone
    sizes: str = ""


def picture_of(app: web.Application, url: str, box: str, shown_px: int) -> Picture:
    """`url` in a box `shown_px` CSS pixels wide (at most its box's 1x width)."""
    sizes = BOXES[box]
    urls = [(size, sized_url(app[MEDIA_STORAGE], url, size)) for size in sizes]
    known = [(size, found) for size, found in urls if found is not None]
    if not known:
        return Picture(url)
    return Picture(src=known[-1][1], srcset=", ".join(f"{found} {size.width}w" for size, found in known),
                   sizes=f"{shown_px}px")


def candidate_tile(app: web.Application, candidate: PublicCandidate, shown_px: int) -> Picture | None:
    """A candidate in a list: their clip's poster, else their photo; None for neither (their initials show)."""
    clip = candidate.clip
    if clip is not None and (clip.poster or clip.thumb):
        shown = picture_of(app, clip.poster, TILE, shown_px) if clip.poster else None
        return shown if shown is not None and (shown.srcset or not clip.thumb) else Picture(clip.thumb or "")
    return picture_of(app, candidate.photo_url, TILE, shown_px) if candidate.photo_url else None


def picture_globals(app: web.Application) -> dict[str, Callable[..., Picture | None]]:
    """`picture(url, box, shown_px)` and `candidate_tile(candidate, shown_px)` for the templates: the storage is
    read when a page renders (it is made when the app starts, after the templates)."""
    def picture(url: str, box: str, shown_px: int) -> Picture:
        return picture_of(app, url, box, shown_px)

    def tile(candidate: PublicCandidate, shown_px: int) -> Picture | None:
        return candidate_tile(app, candidate, shown_px)
    return {"picture": picture, "candidate_tile": tile}

