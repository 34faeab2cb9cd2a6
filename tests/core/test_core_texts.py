"""The catalogs Ballot speaks from, one gettext domain per package: each holds every text of its package's
code, French translates all of them and Swahili all a voter reads, the compiled .mo files are those of the .po
files, a domain falls back to the core's, and plural forms, money and dates follow the language."""

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

from admin.texts import CATALOGS as ADMIN
from channels.phone.texts import CATALOGS as PHONE
from channels.sms.texts import CATALOGS as SMS
from channels.sms.texts import readable
from channels.telegram.texts import CATALOGS as TELEGRAM
from channels.ussd.texts import CATALOGS as USSD
from channels.web.i18n import CATALOGS as WEB
from gateway.core.texts import CORE, LANGUAGES, Lang, TextDomain, format_date, format_money, translations
from payments.mpesa.texts import CATALOGS as MPESA

ROOT = Path(__file__).parents[2]
SOURCES = ("gateway", "channels", "admin", "payments")
DOMAINS = (CORE, ADMIN, PHONE, SMS, TELEGRAM, USSD, WEB, MPESA)
EVERY_CATALOG = [pytest.param(domain, lang, id=f"{domain.name}:{lang}")
                 for domain in DOMAINS for lang in domain.languages]
VOTER_DOMAINS = tuple(domain for domain in DOMAINS if domain.languages == LANGUAGES)


def catalog(domain: TextDomain, lang: str) -> Catalog:
    with domain.catalog(lang).open("rb") as source:
        return read_po(source)


def texts_in(folder: Path) -> set[tuple[str | None, str]]:
    """(context, msgid) of every text `pybabel extract` finds with babel.cfg under `folder`."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    return {(context, message[0] if isinstance(message, tuple) else message)
            for _, _, message, _, context in extract_from_dir(folder, method_map, options_map)}


def keys(messages: Catalog) -> set[tuple[str | None, str]]:
    return {(m.context, m.id[0] if isinstance(m.id, tuple) else m.id) for m in messages if m.id}


@pytest.mark.parametrize(("domain", "lang"), EVERY_CATALOG)
def test_each_catalog_holds_exactly_the_texts_of_its_package(domain: TextDomain, lang: str) -> None:
    """A text added to the code without `make texts`, or one the code no longer uses, shows here."""
    assert keys(catalog(domain, lang)) == texts_in(domain.locales.parent)


def test_every_text_of_the_code_belongs_to_a_domain() -> None:
    """A package showing texts without a domain of its own (in the Makefile's DOMAINS) shows here."""
    covered = set().union(*(texts_in(domain.locales.parent) for domain in DOMAINS))
    assert set().union(*(texts_in(ROOT / folder) for folder in SOURCES)) == covered
    makefile = (ROOT / "Makefile").read_text()
    assert all(f"{domain.locales.parent.relative_to(ROOT)}:{domain.name}" in makefile for domain in DOMAINS)


@pytest.mark.parametrize("domain", DOMAINS, ids=lambda domain: domain.name)
def test_french_translates_every_text(domain: TextDomain) -> None:
    untranslated = [m.id for m in catalog(domain, Lang.FR) if m.id and (m.fuzzy or not all(
        m.string if isinstance(m.string, tuple) else (m.string,)))]
    assert untranslated == []


@pytest.mark.parametrize("domain", VOTER_DOMAINS, ids=lambda domain: domain.name)
def test_swahili_translates_every_text_a_voter_reads(domain: TextDomain) -> None:
    untranslated = [m.id for m in catalog(domain, Lang.SW) if m.id and (m.fuzzy or not all(
        m.string if isinstance(m.string, tuple) else (m.string,)))]
    assert untranslated == []


def test_every_domain_but_the_organisers_speaks_every_voter_language() -> None:
    """The admin area alone stays French and English; its catalogs hold no Swahili a page could ask for."""
    assert {domain.name for domain in VOTER_DOMAINS} == {domain.name for domain in DOMAINS} - {"admin"}
    assert ADMIN.languages == (Lang.FR, Lang.EN) and not ADMIN.catalog(Lang.SW).exists()
    assert all(domain.catalog(Lang.SW).with_suffix(".mo").exists() for domain in VOTER_DOMAINS)


def test_a_channel_speaks_from_its_own_domain_and_the_core_s_behind_it() -> None:
    """The SMS texts are in the `sms` domain alone; the core's refusal reasons reach an SMS translated."""
    usage = ("To vote, send {keyword} <number> <votes> to {short_code}, e.g. {keyword} 07 5. "
             "TOP: ranking. STOP: no more messages.")
    assert SMS.translations(Lang.FR).pgettext("sms", usage).startswith("Pour voter")
    assert translations(Lang.FR).pgettext("sms", usage) == usage
    assert readable(Lang.FR, "APPROVAL_REJECTED").startswith("Le paiement a été refusé")
    assert readable(Lang.SW, "NOT_ENOUGH_FUNDS") == "Salio halitoshi kwenye akaunti."


@pytest.mark.parametrize(("domain", "lang"), EVERY_CATALOG)
def test_translations_fill_the_fields_of_their_msgid(domain: TextDomain, lang: str) -> None:
    """A translation that drops or misspells `{contest}` would fail (or lie) where it is shown."""
    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in Formatter().parse(text) if name}

    for m in catalog(domain, lang):
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        for text in (s for s in strings if s):
            assert fields(text) == fields(ids[-1]), (lang, m.id, text)


@pytest.mark.parametrize(("domain", "lang"), EVERY_CATALOG)
def test_compiled_catalogs_are_those_of_their_sources(domain: TextDomain, lang: str) -> None:
    """The committed .mo is what `pybabel compile` makes of the .po (run `make texts` after editing it)."""
    fresh = io.BytesIO()
    write_mo(fresh, catalog(domain, lang))
    assert domain.catalog(lang).with_suffix(".mo").read_bytes() == fresh.getvalue()


def test_plural_forms_come_from_the_catalogs() -> None:
    fr, en = WEB.translations(Lang.FR), WEB.translations(Lang.EN)
    assert [fr.ngettext("{n} vote", "{n} votes", n) for n in (0, 1, 2)] == ["{n} vote", "{n} vote", "{n} votes"]
    assert [en.ngettext("{n} vote", "{n} votes", n) for n in (0, 1, 2)] == ["{n} votes", "{n} vote", "{n} votes"]
    sw = WEB.translations(Lang.SW)
    assert [sw.ngettext("{n} vote", "{n} votes", n) for n in (0, 1, 2)] == ["kura {n}", "kura {n}", "kura {n}"]


def test_money_and_dates_as_each_language_writes_them() -> None:
    assert format_money(150000, "XAF", Lang.FR) == "150\u202f000\u00a0FCFA"
    assert format_money(150000, "XAF", Lang.EN) == "FCFA\u00a0150,000"
    assert format_money(1250, "EUR", Lang.FR) == "12,50\u00a0€" and format_money(1250, "EUR", Lang.EN) == "€12.50"
    assert format_money(7, "abc", Lang.EN) == "ABC\u00a07"  # no such currency: shown whole
    closing = datetime(2026, 3, 5, 17, 0, tzinfo=UTC)  # 18:00 in Yaoundé
    assert format_date(closing, Lang.FR) == "5 mars 2026 à 18:00 (WAT)"
    assert format_date(closing, Lang.EN) == "March 5, 2026 at 18:00 (WAT)"
    assert format_money(150000, "KES", Lang.SW) == "Ksh\u00a01,500.00"
    assert format_date(closing, Lang.SW) == "5 Machi 2026 saa 18:00 (WAT)"
    assert format_date(closing, Lang.SW, "Africa/Nairobi") == "5 Machi 2026 saa 20:00 (EAT)"
