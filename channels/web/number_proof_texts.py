"""What the pages that prove a number with a texted code (an entry's, a free vote's) say when the API refuses a
step, in the page's language: the API's own messages are English, for programs and their developers."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gateway.core.texts import N_

NUMBER_PROOF_TEXTS: dict[str, str] = {
    "refused_not_proven": N_("Prove your number with the code we text you first."),
    "refused_too_many_codes": N_("Too many codes were asked for; wait a minute and try again."),
    "refused_wrong_code": N_("That is not the code we texted, or it has expired or been used; ask for a new one."),
    "refused_number_not_served": N_("Use a mobile number of a country this contest runs in."),
    "refused_page_check": N_("This page's check has run out; reload the page and try again."),
    "refused_unanswered": N_("The service could not answer; try again in a moment."),
}

# The API's error codes (gateway.kit.phone_proof, code_work; channels.web.entry_api) and the text each is told by.
# "" is a failure with no code of ours: no answer, or not one of the API's; "code:field" a code told apart by its
# field (channels/web/static/uploader.js, `told`).
PROOF_ERRORS: dict[str, str] = {
    "number_not_proven": "refused_not_proven", "rate_limited": "refused_too_many_codes",
    "wrong_code": "refused_wrong_code", "invalid_msisdn": "err_invalid_msisdn",
    "number_not_served": "refused_number_not_served", "msisdn_blocked": "err_msisdn_blocked",
    "challenge_expired": "refused_page_check", "challenge_spent": "refused_page_check",
    "challenge_invalid": "refused_page_check", "challenge_required": "refused_page_check",
    "internal_error": "refused_unanswered", "database_unavailable": "refused_unanswered",
    "body_timeout": "refused_unanswered", "": "refused_unanswered",
}


def error_texts(translate: Callable[[str], str], errors: Mapping[str, str]) -> dict[str, str]:
    """Each error code's text in the page's language, for its script (`translate`: the page's own)."""
    return {code: translate(key) for code, key in errors.items()}
