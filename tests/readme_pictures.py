"""The README's pictures of the pages, taken by the browser tests as they check those pages, so the README never
shows a page as it no longer looks.

A picture is replaced only when the page looks different (its size, or more than a trace of its pixels): the same
page drawn again differs by a little anti-aliasing and a clock, which would otherwise leave a changed file after
every run."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageChops, ImageStat

PICTURES = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
# The mean difference per channel (0-255) below which two pictures show the same page.
SAME_PAGE = 1.5


def differs(old: Image.Image, new: Image.Image) -> bool:
    if old.size != new.size or old.mode != new.mode:
        return True
    return max(ImageStat.Stat(ImageChops.difference(old, new)).mean) > SAME_PAGE


def keep_for_readme(png: bytes, name: str) -> Path:
    """The README's picture `name` (docs/screenshots/<name>.png), replaced by this one if the page changed."""
    target = PICTURES / f"{name}.png"
    new = Image.open(io.BytesIO(png))
    if target.exists():
        with Image.open(target) as old:
            if not differs(old, new):
                return target
    PICTURES.mkdir(parents=True, exist_ok=True)
    target.write_bytes(png)
    return target
