"""What a provider said of a refund or a payout, as the admin pages show it: a sum paid other than asked (recorded in
the core's own terms, gateway.core.money_out.amount_differs) in the organiser's language with both sums as money;
any other word (a refusal, in the provider's own terms) as it came."""

from __future__ import annotations

import jinja2
from jinja2.runtime import Context

from admin import texts
from gateway.core.money_out.amount_differs import read
from gateway.core.texts import N_, format_money

# By what the provider did: a refund sent back, a payout paid.
SENTENCES = {"refunded": N_("the provider refunded {paid}, {asked} were owed"),
             "paid": N_("the provider paid {paid}, {asked} were asked")}


def provider_word(reason: str | None, currency: str, lang: str) -> str:
    """`reason` for a person reading `lang`; `currency` is the row's own, that of the sum asked."""
    differs = read(reason)
    if differs is None or differs.done not in SENTENCES:
        return reason or ""
    paid, asked = format_money(differs.paid, differs.currency, lang), format_money(differs.asked, currency, lang)
    return texts.gettext_for(lang)(SENTENCES[differs.done], paid=paid, asked=asked)


@jinja2.pass_context
def provider_word_filter(context: Context, reason: str | None, currency: str) -> str:
    """`{{ row.provider_reason | provider_word(row.currency) }}` in the admin templates, in the page's language."""
    return provider_word(reason, currency, str(context.get("lang") or texts.DEFAULT_LANGUAGE))


def add_to(environment: jinja2.Environment) -> None:
    environment.filters["provider_word"] = provider_word_filter
