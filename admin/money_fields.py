"""Amounts as an organiser types and reads them on the admin pages: in major units of the currency ("10" or "10.50"
shillings, "100" francs CFA, never cents), kept in minor units. The JSON admin API keeps minor units (its clients
send integers, documented with the currency's exponent); only the pages' forms go through here.

A currency without cents (XAF, XOF) refuses a decimal ("10.5" francs is no amount anyone can pay); one with cents
takes at most its digits, after a point or a comma (a French organiser types "10,50"). Nothing is rounded, and no
digit is forgiven: "1,000" is a thousands separator to one person and a decimal comma to another, so three digits
after a separator are refused in a currency whose cents are not three."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from jinja2.runtime import Context

from admin import texts
from gateway.core.contests.chargeable_prices import check_chargeable
from gateway.core.contests.contest_drafts import ContestDraft
from gateway.core.errors import DomainError
from gateway.core.money import MAX_MINOR, UnknownCurrency, minor_digits, to_major_string
from gateway.core.texts import format_money, money_locale, shown_digits
from gateway.kit.keys import PROVIDERS

# Digits, and at most one decimal separator followed by digits: no sign, no thousands separator, no exponent.
# A typed amount's refusal, already in the organiser's words (admin.field_error_texts leaves it as it is).
AMOUNT_REFUSED = "invalid_amount"
TYPED_AMOUNT = re.compile(r"^([0-9]{1,19})(?:[.,]([0-9]+))?$")


def typed_minor(typed: object, currency: str, field: str, lang: str) -> int:
    """What an organiser typed in major units of `currency`, in minor units; a DomainError on `field` in `lang`
    otherwise. Ints (a form re-shown from minor units never comes here) are read as major units too."""
    _ = texts.gettext_for(lang)
    text = str(typed if typed is not None else "").strip().replace("\u00a0", "").replace("\u202f", "")
    digits = minor_digits(currency)
    found = TYPED_AMOUNT.match(text)
    if found is None:
        example = "10" if digits == 0 else "10" + "." + "5" * digits
        raise DomainError(_("Type the amount in {currency} with digits, e.g. {example}.", currency=currency.upper(),
                            example=example), code=AMOUNT_REFUSED, field=field)
    whole, cents = found.group(1), found.group(2) or ""
    if len(cents) > digits:  # every digit typed counts: "10.50" francs is no amount, nor "10.500" shillings
        raise DomainError(too_many_decimals(whole, cents, currency, lang), code=AMOUNT_REFUSED, field=field)
    minor = int(whole) * int(10**digits) + int((cents + "0" * digits)[:digits] or "0")
    if minor >= MAX_MINOR:
        raise DomainError(_("That amount is too large."), code=AMOUNT_REFUSED, field=field)
    return minor


def too_many_decimals(whole: str, cents: str, currency: str, lang: str) -> str:
    """Why an amount with more decimals than `currency` has is refused, naming the amounts nearest; three of them may
    be a thousands separator ("1,000" francs, "25.000" shillings), never read as cents: the amount without it too."""
    _ = texts.gettext_for(lang)
    digits = minor_digits(currency)
    below = int(whole) * int(10**digits) + int(cents[:digits] or "0")
    options = " / ".join(format_money(amount, currency, lang) for amount in (below, below + 1) if amount > 0)
    if digits == 0:
        message = _("{currency} has no cents: type a whole amount ({options}).", currency=currency.upper(),
                    options=options)
    else:
        message = _("{currency} has {digits} decimals at most ({options}).", currency=currency.upper(),
                    digits=digits, options=options)
    if len(cents) == 3 and whole != "0":
        message += " " + _("Without a thousands separator: {amount}.", amount=whole + cents)
    return message


def shown_major(amount: int | None, currency: str) -> str:
    """A kept amount as its form field shows it: 1050 KES cents as "10.50", 100 XAF as "100"; empty for none."""
    if amount is None:
        return ""
    try:
        return to_major_string(amount, currency)
    except UnknownCurrency:
        return str(amount)


def known_currency(currency: object) -> str | None:
    code = str(currency or "").strip().upper()
    try:
        minor_digits(code)
    except UnknownCurrency:
        return None
    return code


def amounts_in_minor(form: Mapping[str, Any], names: tuple[str, ...], currency: object,
                     lang: str) -> dict[str, Any]:
    """A page form's fields with the amounts named turned from major into minor units of `currency` (the contest's,
    the payout's); an empty one stays empty, and a currency that is none leaves them to the core to refuse."""
    code = known_currency(currency)
    fields = dict(form)
    if code is not None:
        for name in names:
            if str(form.get(name) or "").strip():
                fields[name] = typed_minor(form.get(name), code, name, lang)
    return fields


def amount_example(currency: object) -> str:
    """What an amount of `currency` looks like typed: "10.50" shillings, "100" francs."""
    code = known_currency(currency)
    digits = minor_digits(code) if code else 0
    return "100" if digits == 0 else "10." + "5" + "0" * (digits - 1)


def price_in_minor(form: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """The contest form's fields with its price per vote turned into minor units for the core's parsing (which the
    JSON API shares); a currency that is none is left to that parsing to refuse."""
    currency = known_currency(form.get("currency"))
    fields = dict(form)
    if currency is not None and str(form.get("price_per_vote") or "").strip():
        fields["price_per_vote"] = typed_minor(form.get("price_per_vote"), currency, "price_per_vote", lang)
    return fields


def price_preview(price: object, currency: object, lang: str) -> str | None:
    """"Voters pay KSh 10.00 a vote", from what the form holds; None while it is no price."""
    code = known_currency(currency)
    if code is None:
        return None
    try:
        minor = typed_minor(price, code, "price_per_vote", lang)
    except DomainError:
        return None
    return texts.gettext_for(lang)("Voters pay {price} a vote.", price=format_money(minor, code, lang))


@jinja2.pass_context
def money_filter(context: Context, amount: int | None, currency: str) -> str:
    """`{{ amount | money(currency) }}` in the admin templates: the amount as format_money shows it, in the page's
    language; a dash for none."""
    if amount is None:
        return "—"
    return format_money(amount, currency, str(context.get("lang") or texts.DEFAULT_LANGUAGE))


@jinja2.pass_context
def preview_global(context: Context, price: object, currency: object) -> str:
    return price_preview(price, currency, str(context.get("lang") or texts.DEFAULT_LANGUAGE)) or ""


def add_to(environment: jinja2.Environment) -> None:
    """The admin templates' filters and functions of money (admin.pages.setup)."""
    environment.filters["money"] = money_filter
    environment.filters["major"] = shown_major
    environment.globals["price_preview"] = preview_global
    environment.globals["money_locale_tag"] = locale_tag
    environment.globals["amount_example"] = amount_example


def check_prices(request: web.Request, draft: ContestDraft) -> None:
    """Refuses a contest's price that one of its providers cannot charge (their declarations, read by the core),
    naming the provider and the nearest prices it can, in the organiser's language."""
    check_price(request, draft.price_per_vote, draft.currency, draft.max_votes_per_order, draft.providers,
                draft.stars_per_vote)


def check_price(request: web.Request, price: int, currency: str, max_votes: int, chosen: Sequence[str],
                stars_per_vote: int | None = None) -> None:
    """`check_prices` for a price that is not the form's: a round's, which becomes the contest's when it opens."""
    check_chargeable(price, currency, max_votes, chosen, request.app[PROVIDERS], texts.language_of(request),
                     stars_per_vote)


SCRIPT = (Path(__file__).parent / "static" / "money.js").read_text()
routes = web.RouteTableDef()


@routes.get("/admin/static/money.js")
async def money_script(request: web.Request) -> web.StreamResponse:
    return web.Response(text=SCRIPT, content_type="text/javascript", headers={"Cache-Control": "max-age=300"})


def with_script(response: web.Response) -> web.Response:
    """The contest form's page, allowed its own script (the price's preview as it is typed)."""
    policy = response.headers.get("Content-Security-Policy", "")
    response.headers["Content-Security-Policy"] = policy.replace("default-src 'none';",
                                                                 "default-src 'none'; script-src 'self';", 1)
    return response


@jinja2.pass_context
def locale_tag(context: Context, currency: object) -> str:
    """`en-KE`: the locale the browser formats the price's preview in (the one format_money takes its symbol from)."""
    lang = str(context.get("lang") or texts.DEFAULT_LANGUAGE)
    code = known_currency(currency)
    return str(money_locale(lang, code) if code else lang).replace("_", "-")


def with_digits(body: dict[str, Any]) -> dict[str, Any]:
    """An API answer's amounts (minor units) with their currency's exponent beside them, `minor_digits` (KES 2: 5000
    is KES 50.00; XAF 0), so a client never guesses where the point goes."""
    currency = body.get("currency")
    if isinstance(currency, str):
        body["minor_digits"] = shown_digits(currency)
    return body
