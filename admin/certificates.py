"""Winners' certificates as PDF: a certificate's data (gateway/core/results/certificates.py) drawn on one A4 page.

The library is fpdf2: pure Python (no system libraries, unlike WeasyPrint), maintained with frequent releases,
small beside reportlab, and it embeds a TrueType font as a subset, so a name in any Latin script prints as typed.
The QR code is segno's (already the admin area's, for TOTP), drawn as vector squares: no image, sharp at any size.
The words are the admin catalog's in the contest's language; drawing takes a few milliseconds and runs in the
admin area, never in a process that takes votes.

The font is DejaVu Sans where the machine has it (Debian's fonts-dejavu-core); elsewhere the PDF's built-in
Helvetica, which holds Latin-1 only: a letter beyond it is printed without its accent, or as "?".
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import segno
from babel.dates import format_date

from admin.texts import CATALOGS, DEFAULT_LANGUAGE, LANGUAGES
from gateway.core.results.certificates import CertificateData
from gateway.core.texts import N_, babel_locale, format_number

FONT_FOLDER = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
WIDTH, HEIGHT, MARGIN = 297.0, 210.0, 12.0  # A4 landscape, millimetres
QR_SIDE = 38.0
INK, ACCENT, MUTED = (17, 17, 17), (146, 104, 20), (90, 90, 90)

# The ordinal of a place, per language (gettext has no rule for ordinals; Babel spells none out).
ORDINALS: dict[str, Callable[[int], str]] = {
    "en": lambda n: f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}",
    "fr": lambda n: "1re" if n == 1 else f"{n}e",
}
TITLE = N_("Certificate")
PLACE = N_("{ordinal} place")


@dataclass(frozen=True)
class Issuer:
    """Who gives the certificate: a name, and a logo (PNG or JPEG bytes) when there is one."""

    name: str
    logo: bytes | None = None


def language_for(contest_language: str) -> str:
    """The contest's language where the admin catalog has it (fr, en), else English."""
    return contest_language if contest_language in LANGUAGES else DEFAULT_LANGUAGE


class Words:
    """The certificate's texts in one language."""

    def __init__(self, lang: str) -> None:
        self.lang = language_for(lang)
        self.catalog = CATALOGS.translations(self.lang)

    def __call__(self, message: str, **values: object) -> str:
        text = self.catalog.gettext(message)
        return text.format(**values) if values else text

    def place(self, place: int) -> str:
        return self(PLACE, ordinal=ORDINALS.get(self.lang, str)(place))

    def votes(self, votes: int) -> str:
        return self.catalog.ngettext("{count} vote", "{count} votes", votes).format(
            count=format_number(votes, self.lang))

    def jury(self, points: int) -> str:
        return self.catalog.ngettext("Jury: {count} point", "Jury: {count} points", points).format(
            count=format_number(points, self.lang))

    def day(self, when: datetime, zone: str) -> str:
        return format_date(when.astimezone(ZoneInfo(zone)).date(), "long", locale=babel_locale(self.lang))


def latin1(text: str) -> str:
    """The text as Helvetica can print it: Latin-1 kept, other letters without their accents, the rest "?"."""
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
            continue
        plain = "".join(c for c in unicodedata.normalize("NFKD", char) if ord(c) < 256)
        out.append(plain or "?")
    return "".join(out)


class Sheet:
    """One certificate page being drawn (fpdf2's document, with the font chosen once)."""

    def __init__(self) -> None:
        # Imported here: fpdf2 (with fontTools) is a third of a second of CPU that every web process's start paid for
        # the few certificates a contest prints, after its close.
        from fpdf import FPDF

        self.pdf = FPDF(orientation="L", unit="mm", format="A4")
        self.pdf.set_auto_page_break(False)
        self.pdf.set_margins(MARGIN, MARGIN, MARGIN)
        self.unicode = all((FONT_FOLDER / name).is_file() for name in FONT_FILES.values())
        if self.unicode:
            for style, name in FONT_FILES.items():
                self.pdf.add_font("DejaVu", style, str(FONT_FOLDER / name))
        self.family = "DejaVu" if self.unicode else "Helvetica"
        self.pdf.add_page()

    def line(self, text: str, size: float, *, y: float, bold: bool = False,
             color: tuple[int, int, int] = INK, width: float = WIDTH - 2 * MARGIN - 8, x: float | None = None) -> None:
        """A line centred in its width (the page's by default), shrunk until it fits: a long name stays one line."""
        text = text if self.unicode else latin1(text)
        self.pdf.set_font(self.family, "B" if bold else "", size)
        while size > 8 and self.pdf.get_string_width(text) > width:
            size -= 1
            self.pdf.set_font_size(size)
        self.pdf.set_text_color(*color)
        self.pdf.set_xy((WIDTH - width) / 2 if x is None else x, y)
        self.pdf.cell(width, size * 0.45, text, align="C")

    def frame(self) -> None:
        self.pdf.set_draw_color(*ACCENT)
        self.pdf.set_line_width(1.2)
        self.pdf.rect(MARGIN, MARGIN, WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN)
        self.pdf.set_line_width(0.3)
        self.pdf.rect(MARGIN + 3, MARGIN + 3, WIDTH - 2 * MARGIN - 6, HEIGHT - 2 * MARGIN - 6)

    def qr(self, url: str, x: float, y: float, side: float) -> None:
        """The address as a QR code of filled squares, one rectangle per run of dark modules in a row; on a screen
        the code is also a link to it."""
        self.pdf.link(x, y, side, side, url)
        rows = [list(row) for row in segno.make(url, error="m").matrix_iter(scale=1, border=0)]
        module = side / len(rows)
        self.pdf.set_fill_color(*INK)
        for r, row in enumerate(rows):
            c = 0
            while c < len(row):
                if not row[c]:
                    c += 1
                    continue
                start = c
                while c < len(row) and row[c]:
                    c += 1
                self.pdf.rect(x + start * module, y + r * module, (c - start) * module, module, style="F")

    def logo(self, image: bytes) -> None:
        self.pdf.image(io.BytesIO(image), x=MARGIN + 8, y=MARGIN + 8, h=22, keep_aspect_ratio=True)

    def bytes(self) -> bytes:
        return bytes(self.pdf.output())


def certificate_pdf(data: CertificateData, issuer: Issuer, lang: str, zone: str, verify_url: str) -> bytes:
    """The certificate of one candidate's place, on one page, with the QR code of its check."""
    words, page = Words(lang), Sheet()
    page.pdf.set_title(f"{words(TITLE)} · {data.contest_name} · {data.name}")
    page.pdf.set_creator("Ballot")
    page.frame()
    if issuer.logo:
        page.logo(issuer.logo)
    page.line(issuer.name, 13, y=24, color=MUTED)
    page.line(words(TITLE), 36, y=38, bold=True, color=ACCENT)
    page.line(data.contest_name, 20, y=58, bold=True)
    if data.round is not None:
        page.line(words(N_("Round: {round}"), round=data.round), 14, y=68, color=MUTED)
    page.line(words(N_("is awarded to")), 13, y=80, color=MUTED)
    page.line(data.name, 30, y=92, bold=True)
    page.line(words(N_("Candidate {code}"), code=data.code), 12, y=108, color=MUTED)
    page.line(words.place(data.place), 24, y=120, bold=True, color=ACCENT)
    page.line(words.votes(data.votes), 15, y=135)
    if data.jury is not None:
        page.line(words.jury(data.jury), 13, y=143)
    left, x = WIDTH - 2 * MARGIN - QR_SIDE - 28, MARGIN + 8  # the QR code's side of the page left free
    page.line(words(N_("Results signed on {date}"), date=words.day(data.signed_at, zone)), 11, y=158, width=left, x=x)
    page.line(words(N_("Check this certificate: scan the code, or open /verify on the contest's site.")), 9, y=168,
              color=MUTED, width=left, x=x)
    page.line(words(N_("Signed results sheet {id} · {digest}"), id=data.sheet_id, digest=data.sheet_digest), 8, y=175,
              color=MUTED, width=left, x=x)
    page.qr(verify_url, WIDTH - MARGIN - QR_SIDE - 10, HEIGHT - MARGIN - QR_SIDE - 10, QR_SIDE)
    return page.bytes()
