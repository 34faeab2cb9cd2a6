"""The tile of a candidate without a picture: their initials on a tone of their own. No image to download on
3G, and a row or a tile tells candidates apart at a glance even before any photo is in.

The tones are the `.mono-N` classes of static/ballot.css (a light tint and a dark shade of one hue, at least
4.5:1 apart, WCAG AA): classes rather than computed colours because the pages' content policy allows no inline
style. ballot.js picks the same tone for a row it makes (the same hash over the same UTF-16 units)."""

from __future__ import annotations

TONES = 12  # hues 30° apart: `.mono-0` … `.mono-11`
FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193


def tone(name: str) -> int:
    """The candidate's tone, the same on every page and every visit: FNV-1a over the name's UTF-16 code units
    (what a browser's script sees of a string), so the script's rows match the server's."""
    data = name.encode("utf-16-le")
    digest = FNV_OFFSET
    for index in range(0, len(data), 2):
        digest = ((digest ^ int.from_bytes(data[index:index + 2], "little")) * FNV_PRIME) & 0xFFFFFFFF
    return digest % TONES


def initials(name: str, code: str) -> str:
    """The first letter or digit of the first two words that have one ("Grace Ndongo" -> "GN"), else the code: a
    name of emoji or punctuation still gets a tile that says something."""
    firsts = (next((ch for ch in word if ch.isalnum()), "") for word in name.split())
    letters = [ch for ch in firsts if ch]
    return "".join(letters[:2]).upper() or code

