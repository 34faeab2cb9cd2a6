"""Charts as inline SVG from figures: pure functions, no script and no library, readable on a phone.

Horizontal bars (one row per label) stay legible at 320 px wide however many slices there are; the
numbers behind each chart go in a table next to it (see dashboard.html), so nothing here must be exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

ROW = 22
LABEL_WIDTH = 110
LABEL_ROOM = 18  # characters of a 12 px label that fit LABEL_WIDTH
BAR_WIDTH = 180
VALUE_WIDTH = 70
WIDTH = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH


def number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.2f}"


def shortened(label: str, room: int = LABEL_ROOM) -> str:
    """A label that fits its room: whole words, and an ellipsis where words were left out (never cut inside one;
    a first word longer than the room alone is cut, with the ellipsis)."""
    if len(label) <= room:
        return label
    kept = ""
    for word in label.split():
        if len(kept) + len(word) + (1 if kept else 0) > room - 1:
            break
        kept = f"{kept} {word}" if kept else word
    return f"{(kept or label[:room - 1]).rstrip(' ,.;:')}…"


def bar_chart(title: str, rows: Sequence[tuple[str, float]], *, colour: str = "#2b6cb0") -> str:
    """A horizontal bar chart of `(label, value)` rows, scaled to the largest value, as an SVG element."""
    height = ROW * max(len(rows), 1) + 8
    top = max((value for _, value in rows), default=0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} {height}" '
             f'width="100%" style="max-width:{WIDTH * 2}px" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>"]
    if not rows:
        parts.append(f'<text x="4" y="16" font-size="12" fill="#666">{escape("–")}</text>')
    for i, (label, value) in enumerate(rows):
        y = 4 + i * ROW
        length = round(BAR_WIDTH * value / top) if top > 0 else 0
        parts.append(f'<text x="{LABEL_WIDTH - 4}" y="{y + 15}" font-size="12" text-anchor="end">'
                     f"{escape(shortened(label))}</text>")
        parts.append(f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{max(length, 0)}" height="{ROW - 6}" '
                     f'fill="{colour}"/>')
        parts.append(f'<text x="{LABEL_WIDTH + length + 4}" y="{y + 15}" font-size="12">{number(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def gauge(title: str, ratio: float | None) -> str:
    """A 0–100 % bar for a rate (payment success); an empty frame when there is no rate yet."""
    filled = round(BAR_WIDTH * ratio) if ratio is not None else 0
    text = f"{ratio * 100:.1f} %" if ratio is not None else "–"
    colour = "#2f855a" if ratio is not None and ratio >= 0.8 else "#c05621"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} 28" width="100%" '
            f'style="max-width:{WIDTH * 2}px" aria-label="{escape(title)}"><title>{escape(title)}</title>'
            f'<rect x="0" y="4" width="{BAR_WIDTH}" height="20" fill="#eee" stroke="#999"/>'
            f'<rect x="0" y="4" width="{filled}" height="20" fill="{colour}"/>'
            f'<text x="{BAR_WIDTH + 8}" y="19" font-size="13">{escape(text)}</text></svg>')


def columns(title: str, rows: Sequence[tuple[str, int]], *, colour: str = "#2b6cb0") -> str:
    """Vertical bars over time (votes a minute), the first and last labels under them: a trend at a glance."""
    height, top = 90, max((value for _, value in rows), default=0)
    step = WIDTH / max(len(rows), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} {height + 18}" '
             f'width="100%" style="max-width:{WIDTH * 2}px" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>",
             f'<line x1="0" y1="{height}" x2="{WIDTH}" y2="{height}" stroke="#999"/>']
    for i, (label, value) in enumerate(rows):
        bar = round((height - 14) * value / top) if top > 0 else 0
        parts.append(f'<rect x="{i * step + 1:.1f}" y="{height - bar}" width="{step - 2:.1f}" height="{bar}" '
                     f'fill="{colour}"><title>{escape(label)}: {value}</title></rect>')
    if rows:
        parts.append(f'<text x="0" y="{height + 14}" font-size="11">{escape(rows[0][0])}</text>')
        parts.append(f'<text x="{WIDTH}" y="{height + 14}" font-size="11" text-anchor="end">'
                     f"{escape(rows[-1][0])}</text>")
        parts.append(f'<text x="{WIDTH}" y="11" font-size="11" text-anchor="end">max {top}</text>')
    parts.append("</svg>")
    return "".join(parts)
