"""The published late-vote rule as the web says it (the `web` domain): on the contest page, and on an order's page
when its payment came after the lines closed and their grace (gateway.core.contests.late_votes)."""

from __future__ import annotations

from collections.abc import Callable

from gateway.core.contests.late_votes import rule_minutes
from gateway.core.texts import N_

LATE_VOTE_TEXTS: dict[str, str] = {
    "late_title": N_("Too late to count"),
    "late_body": N_("The lines had closed when your payment reached us: your votes were not counted, and your "
                    "payment is being refunded automatically."),
}


def late_rule(ngettext: Callable[[str, str, int], str], grace_seconds: int) -> str:
    """The rule in the reader's language (`ngettext`: its catalog's), the grace in whole minutes (rounded up: never
    promising less)."""
    minutes = rule_minutes(grace_seconds)
    return ngettext(
        "Votes placed before the lines close count if paid within {n} minute; later payments are refunded "
        "automatically.",
        "Votes placed before the lines close count if paid within {n} minutes; later payments are refunded "
        "automatically.", minutes).format(n=minutes)
