"""The catalogs every channel speaks from: they hold every text of the code, French translates all of
them, the compiled .mo files are those of the .po files, and plural forms, money and dates follow the
language."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from string import Formatter

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from gateway.core.texts import DOMAIN, LANGUAGES, LOCALES, Lang, format_date, format_money, translations

ROOT = Path(__file__).parents[2]
SOURCES = ("gateway", "channels", "admin")


def po_file(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def catalog(lang: str) -> Catalog:
    with po_file(lang).open("rb") as source:
        return read_po(source)


def texts_in_the_code() -> set[tuple[str | None, str]]:
    """(context, msgid) of every text `pybabel extract` finds with babel.cfg."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: set[tuple[str | None, str]] = set()
    for folder in SOURCES:
        for _, _, message, _, context in extract_from_dir(ROOT / folder, method_map, options_map):
            found.add((context, message[0] if isinstance(message, tuple) else message))
    return found


def keys(messages: Catalog) -> set[tuple[str | None, str]]:
    return {(m.context, m.id[0] if isinstance(m.id, tuple) else m.id) for m in messages if m.id}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_catalog_holds_exactly_the_texts_of_the_code(lang: str) -> None:
    """A text added to the code without `make texts`, or one the code no longer uses, shows here."""
    assert keys(catalog(lang)) == texts_in_the_code()


def test_french_translates_every_text() -> None:
    untranslated = [m.id for m in catalog(Lang.FR) if m.id and (m.fuzzy or not all(
        m.string if isinstance(m.string, tuple) else (m.string,)))]
    assert untranslated == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_fill_the_fields_of_their_msgid(lang: str) -> None:
    """A translation that drops or misspells `{contest}` would fail (or lie) where it is shown."""
    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in Formatter().parse(text) if name}

    for m in catalog(lang):
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        for text in (s for s in strings if s):
            assert fields(text) == fields(ids[-1]), (lang, m.id, text)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalogs_are_those_of_their_sources(lang: str) -> None:
    """The committed .mo is what `pybabel compile` makes of the .po (run `make texts` after editing it)."""
    fresh = io.BytesIO()
    write_mo(fresh, catalog(lang))
    assert po_file(lang).with_suffix(".mo").read_bytes() == fresh.getvalue()


def test_plural_forms_come_from_the_catalogs() -> None:
    fr, en = translations(Lang.FR), translations(Lang.EN)
    assert [fr.ngettext("{n} vote", "{n} votes", n) for n in (0, 1, 2)] == ["{n} vote", "{n} vote", "{n} votes"]
    assert [en.ngettext("{n} vote", "{n} votes", n) for n in (0, 1, 2)] == ["{n} votes", "{n} vote", "{n} votes"]


def test_money_and_dates_as_each_language_writes_them() -> None:
    assert format_money(150000, "XAF", Lang.FR) == "150\u202f000\u00a0XAF"
    assert format_money(150000, "XAF", Lang.EN) == "150,000\u00a0XAF"
    assert format_money(1250, "EUR", Lang.FR) == "12,50\u00a0EUR"
    assert format_money(7, "abc", Lang.EN) == "7\u00a0ABC"  # no such currency: shown whole
    closing = datetime(2026, 3, 5, 17, 0, tzinfo=UTC)  # 18:00 in Yaoundé
    assert format_date(closing, Lang.FR) == "5 mars 2026 à 18:00 (WAT)"
    assert format_date(closing, Lang.EN) == "March 5, 2026 at 18:00 (WAT)"
