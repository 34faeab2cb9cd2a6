"""A contest's bundles on its form (gateway.core.contests.price_tiers): a row each, its votes and its price typed in
major units like every amount of the pages (money_fields), kept as the core's list of {"votes", "amount"} in minor
units (the JSON API sends that list itself). A row left empty is no bundle; a bundle's refusal is said in the
organiser's words, naming the row's figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from admin import money_fields, texts
from gateway.core.contests.chargeable_prices import PriceNotChargeable, refusal_of
from gateway.core.contests.contest_drafts import ContestDraft
from gateway.core.contests.price_tiers import MAX_TIERS, InvalidTiers, PriceTier, tiers_of
from gateway.core.errors import DomainError
from gateway.core.providers import Capability
from gateway.core.texts import N_, format_money
from gateway.kit.keys import PROVIDERS

FIELD = "price_tiers"
ROWS = tuple(range(1, MAX_TIERS + 1))
# Each rule of the core's check (InvalidTiers.rule) in the organiser's words, with its figures.
RULES = {
    "too_many": N_("At most {most} bundles."),
    "votes_range": N_("A bundle's votes: from 1 to {maximum}, the votes an order at most."),
    "same_votes": N_("Two bundles are for {votes} votes: one each."),
    "no_amount": N_("The bundle of {votes} votes needs a price of more than 0."),
    "dearer_than_singles": N_("The bundle of {votes} votes costs more than {votes} single votes ({amount}): a "
                              "bundle must be cheaper or the same."),
    "dearer_per_vote": N_("The bundle of {votes} votes costs more per vote than the one of {fewer}: a bigger bundle "
                          "must not cost more per vote."),
    "shape": N_("Each bundle: a number of votes and its price."),
}


def votes_field(row: int) -> str:
    return f"tier_votes_{row}"


def amount_field(row: int) -> str:
    return f"tier_amount_{row}"


def tier_rows(stored: Sequence[Mapping[str, Any]] | None, currency: str) -> dict[str, str]:
    """A contest's bundles as the form's rows show them (prices in major units), the rest empty."""
    tiers = tiers_of(stored)
    values = {}
    for row in ROWS:
        tier = tiers[row - 1] if row <= len(tiers) else None
        values[votes_field(row)] = str(tier.votes) if tier else ""
        values[amount_field(row)] = money_fields.shown_major(tier.amount, currency) if tier else ""
    return values


def tiers_in_minor(form: Mapping[str, Any], lang: str) -> list[dict[str, int]]:
    """The filled rows as the core reads them, prices in minor units of the form's currency; a DomainError on
    `price_tiers` for a row half filled, a number of votes that is no number, or a price typed wrong."""
    _ = texts.gettext_for(lang)
    currency = money_fields.known_currency(form.get("currency"))
    tiers = []
    for row in ROWS:
        votes = str(form.get(votes_field(row)) or "").strip()
        amount = str(form.get(amount_field(row)) or "").strip()
        if not votes and not amount:
            continue
        if not votes or not amount:
            raise DomainError(_("Bundle {row}: type its votes and its price, or leave both empty.", row=row),
                              code="invalid_price_tiers", field=FIELD)
        if not (votes.isascii() and votes.isdigit()) or len(votes) > 9:
            raise DomainError(_("Bundle {row}: its votes are a whole number, e.g. 10.", row=row),
                              code="invalid_price_tiers", field=FIELD)
        if currency is None:
            continue  # the currency's own refusal says what is wrong
        try:
            minor = money_fields.typed_minor(amount, currency, FIELD, lang)
        except DomainError as exc:
            raise DomainError(_("Bundle {row}:", row=row) + " " + exc.message, code="invalid_price_tiers",
                              field=FIELD) from None
        tiers.append({"votes": int(votes), "amount": minor})
    return tiers


def shown(error: DomainError, currency: str, lang: str) -> DomainError:
    """The core's refusal of the bundles in the organiser's words (its amounts as money); another error as it is."""
    if not isinstance(error, InvalidTiers) or error.rule not in RULES:
        return error
    values: dict[str, object] = dict(error.values)
    if "amount" in values and money_fields.known_currency(currency):
        values["amount"] = format_money(int(error.values["amount"]), currency, lang)
    return DomainError(texts.gettext_for(lang)(RULES[error.rule], **values), code=error.code, field=FIELD)


def check_tier_prices(request: web.Request, draft: ContestDraft) -> None:
    """Refuses a bundle's amount one of the contest's providers cannot charge, as its price per vote is refused
    (money_fields.check_prices): a bundle's amount is what the provider is asked, so M-Pesa's whole shillings or a
    wallet's least and most payment hold for it too. Stars are priced per vote: no bundle is sold in them."""
    check_bundles(request, draft.price_tiers, draft.currency, draft.providers)


def check_bundles(request: web.Request, tiers: Sequence[PriceTier], currency: str, chosen: Sequence[str]) -> None:
    """`check_tier_prices` for bundles that are not the form's: a round's, which become the contest's when it
    opens."""
    providers, lang = request.app[PROVIDERS], texts.language_of(request)
    _ = texts.gettext_for(lang)
    for tier in tiers:
        for name in chosen:
            if Capability.IN_CHAT in providers.capabilities(name):
                continue
            refusal = refusal_of(tier.amount, currency, 1, providers.label(name), providers.charges(name), lang)
            if refusal:
                raise PriceNotChargeable(_("The bundle of {votes} votes:", votes=tier.votes) + " " + refusal,
                                         field=FIELD)
