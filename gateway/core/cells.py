"""Text a spreadsheet shows as text and never runs as a formula: for every CSV or XLSX a person opens (exports,
the signed results sheet). Organisers name contests and candidates, so a name is untrusted input."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_FIRST = frozenset(FORMULA_STARTS)


def safe_text(text: str) -> str:
    """`text`, with a leading ' when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
