"""A contest's bundles on its vote form (gateway.core.contests.price_tiers): each bundle a button that fills the
number of votes with its own ("10 votes for 900 FCFA"), the total then the bundle's amount, as the order will be."""

from __future__ import annotations

from channels.web.words import Words
from gateway.core.contests.catalog import PublicContest
from gateway.core.texts import N_

BUNDLE_TEXTS: dict[str, str] = {
    "bundles_title": N_("Bundles"),
    # A bundle's button: "10 votes for 900 FCFA".
    "bundle": N_("{votes} for {amount}"),
}


def bundle_labels(tr: Words, contest: PublicContest) -> list[tuple[int, str]]:
    """(votes, label) of each bundle the form offers, by votes."""
    return [(tier.votes, tr("bundle", votes=tr.votes(tier.votes), amount=tr.money(tier.amount, contest.currency)))
            for tier in contest.price_tiers if tier.votes <= contest.max_votes_per_order]
