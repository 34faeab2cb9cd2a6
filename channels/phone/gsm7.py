"""GSM-7 text for phone channels (USSD screens, SMS): one character outside GSM-7 turns a screen or
a message into UCS-2 and cuts its room from ~182 (USSD) or 160 (SMS) to ~70 characters, so every name
from the database is transliterated here."""

from __future__ import annotations

import re
import unicodedata

# GSM 03.38 default alphabet (without ESC) and its extension table (each extension char costs 2 septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
GSM7 = GSM7_BASIC | GSM7_EXTENSION
# What we emit: printable ASCII that is also GSM-7 basic. Handsets and gateways mangle even
# GSM-7 accents often enough that names are reduced to plain letters.
SAFE = frozenset(ch for ch in GSM7_BASIC if " " <= ch <= "~")
# Letters NFKD does not decompose, and punctuation with a plain look-alike.
SUBSTITUTES = {
    "ß": "ss", "Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "Œ": "OE", "œ": "oe", "Đ": "D", "đ": "d",
    "Ł": "L", "ł": "l", "Þ": "Th", "þ": "th", "ð": "d", "Ð": "D", "ı": "i", "ſ": "s",
    "‘": "'", "’": "'", "‚": ",", "‛": "'", "`": "'", "´": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"',
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "…": "...", "•": "-", "·": "-",
    "€": "EUR", "×": "x", "[": "(", "]": ")", "{": "(", "}": ")", "\\": "/", "|": "/", "~": "-", "^": "",
}


# Already plain: single-spaced safe characters (most names), returned as they are.
_WORD = "[" + re.escape("".join(sorted(SAFE - {" "}))) + "]+"
PLAIN = re.compile(f"(?:{_WORD}(?: {_WORD})*)?")


def is_gsm7(text: str) -> bool:
    """True when `text` can travel as GSM-7 (basic or extension characters only)."""
    return GSM7.issuperset(text)  # checked in C: every USSD screen and SMS is


def septets(text: str) -> int:
    """The length a GSM-7 screen really has: extension characters take two septets."""
    return len(text) + sum(text.count(ch) for ch in GSM7_EXTENSION)


def transliterate(text: str) -> str:
    """Plain GSM-7-safe letters for any name: accents stripped, emoji and other scripts dropped,
    whitespace collapsed. May return "" (a name made only of emoji): callers supply a fallback."""
    if PLAIN.fullmatch(text):
        return text
    out: list[str] = []
    for ch in text:
        if ch in SUBSTITUTES:
            out.append(SUBSTITUTES[ch])
        elif ch.isspace():
            out.append(" ")
        else:
            out.extend(part for part in unicodedata.normalize("NFKD", ch)
                       if part in SAFE and not unicodedata.combining(part))
    return " ".join("".join(out).split())


def texted(text: str) -> str:
    """A text of our own catalogs as a phone gets it: GSM-7's accented letters kept (é è à ù É), any other letter
    written plain (ê -> e, ç -> c), so that one character never halves what a message carries."""
    return "".join(ch if is_gsm7(ch) else " " if ch.isspace() else transliterate(ch) for ch in text)


def clip(text: str, width: int) -> str:
    """At most `width` characters; a cut name ends with "." so the reader sees it was cut."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    return text[: width - 1].rstrip() + "."
