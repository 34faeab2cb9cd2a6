"""A provider's fee rate as an owner types it on the settlement page: its fixed part and its bands by amount in major
units of the rate's currency ("100 0" is a band up to KES 100.00 costing nothing), its shares in basis points. The JSON
admin API and the core keep minor units (gateway.core.money_out.fee_rates); only the page's form comes here."""

from __future__ import annotations

import re

from admin.money_fields import amount_example, known_currency, shown_major, typed_minor
from admin.texts import gettext_for
from gateway.core.errors import DomainError
from gateway.core.money_out.fee_rates import FeeBand, checked_bands

# A band's numbers are apart by spaces, tabs or semicolons: a comma may be a French decimal point ("10,50").
APART = re.compile(r"[\s;]+")


def rate_currency(typed: object, lang: str) -> str:
    code = known_currency(typed)
    if code is None:
        raise DomainError(gettext_for(lang)("A three-letter currency code of ISO 4217, e.g. KES or XAF."),
                          code="invalid_field", field="currency")
    return code


def fixed_minor(typed: object, currency: str, lang: str) -> int:
    """The fixed part of each payment's fee; empty is none."""
    return typed_minor(typed, currency, "fixed", lang) if str(typed or "").strip() else 0


def typed_bands(text: str, currency: str, lang: str) -> tuple[FeeBand, ...]:
    """The bands, one a line: "up_to fee [share_bp [cap]]", amounts in major units; blank lines skipped."""
    _ = gettext_for(lang)
    bands = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not (words := APART.split(line.strip())) or words == [""]:
            continue
        if not 2 <= len(words) <= 4:
            raise DomainError(_("Band line {number}: up to which amount and its fee, and optionally a share in basis "
                                "points and a cap, e.g. {example}.", number=number,
                                example=f"{amount_example(currency)} 0"), code="invalid_field", field="bands")
        up_to, fee = (band_amount(word, number, currency, lang) for word in words[:2])
        share = words[2] if len(words) > 2 else "0"
        if not (share.isascii() and share.isdigit() and int(share) <= 10_000):
            raise DomainError(_("Band line {number}: its share is in basis points, a whole number from 0 to 10000.",
                                number=number), code="invalid_field", field="bands")
        cap = band_amount(words[3], number, currency, lang) if len(words) > 3 else None
        bands.append(FeeBand(up_to, fee, int(share), cap))
    return checked_bands(bands)


def band_amount(word: str, number: int, currency: str, lang: str) -> int:
    """One amount of a band line, its refusal naming the line: among many, the owner sees which to mend."""
    _ = gettext_for(lang)
    try:
        return typed_minor(word, currency, "bands", lang)
    except DomainError as refused:
        raise DomainError(_("Band line {number}: {refusal}", number=number, refusal=refused.message),
                          code=refused.code, field="bands") from None


def band_text(band: FeeBand, currency: str) -> str:
    """One line of the form, as an owner types it: "100.00 0.00", then the share and the cap where it has them."""
    parts = [shown_major(band.up_to, currency), shown_major(band.fixed_minor, currency)]
    if band.percent_bp or band.cap_minor is not None:
        parts.append(str(band.percent_bp))
    if band.cap_minor is not None:
        parts.append(shown_major(band.cap_minor, currency))
    return " ".join(parts)
