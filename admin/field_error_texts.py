"""The core's refusals of a contest's fields in the organiser's language. The core (gateway.core.contests.
contest_drafts) writes its messages in English for programs, which the JSON API keeps; the admin pages show each by its
`code` and `field` from this table, never by reading its English words. A refusal not in it keeps the core's words
(a channel's field's refusal is the channel's own, in its `describe`: admin.pages.contests.field_errors)."""

from __future__ import annotations

from admin import texts
from gateway.core.errors import DomainError
from gateway.core.fraud.rules import FraudRules
from gateway.core.texts import N_

INVALID = "invalid_field"
CONTEST_FIELDS = {
    (INVALID, "name"): N_("The name: up to 200 characters, not empty."),
    (INVALID, "slug"): N_("The web address: lowercase letters, digits and dashes."),
    (INVALID, "price_per_vote"): N_("The price a vote: more than 0."),
    (INVALID, "currency"): N_("The currency: a three-letter code of ISO 4217, e.g. XAF or KES."),
    (INVALID, "max_votes_per_order"): N_("Votes an order at most: a whole number of 1 or more."),
    (INVALID, "country"): N_("The country: choose one of the list."),
    (INVALID, "time_zone"): N_("The time zone: choose one of the list (e.g. Africa/Nairobi)."),
    (INVALID, "opens_at"): N_("Opens at: a date and a time (2026-12-01 20:00)."),
    (INVALID, "closes_at"): N_("Voting must close after it opens, at a date and a time (2026-12-01 20:00)."),
    (INVALID, "board_frozen_at"): N_("Frozen from: a date and a time (2026-12-01 20:00)."),
    (INVALID, "providers"): N_("Choose one or more ways to pay among those offered."),
    (INVALID, "board"): N_("Choose how the public board shows the counts."),
    (INVALID, "default_language"): N_("Choose the voters' language among those offered."),
    (INVALID, "stars_per_vote"): N_("Stars a vote: a whole number of 1 or more."),
    (INVALID, "fraud_rules"): N_("Fraud rules: each threshold a whole number, 0 turns a rule off."),
}


def shown(error: DomainError, lang: str) -> str:
    """The refusal as the page says it: the table's words in `lang`, the core's own otherwise (and in English, where
    the core's words are the organiser's)."""
    field = "fraud_rules" if error.field in FraudRules.names() else error.field or ""
    text = CONTEST_FIELDS.get((error.code, field))
    if text is None or lang == texts.DEFAULT_LANGUAGE:
        return error.message
    return texts.gettext_for(lang)(text)
