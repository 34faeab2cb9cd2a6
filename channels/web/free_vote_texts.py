"""The free vote's page as the web says it (the `web` domain): prove a number with a texted code, then take its free
vote (channels.web.free_votes; gateway.core.orders.free_votes)."""

from __future__ import annotations

from channels.web.number_proof_texts import PROOF_ERRORS
from gateway.core.texts import N_

FREE_VOTE_TEXTS: dict[str, str] = {
    "free_title": N_("A free vote in {contest}"),
    "free_lead_day": N_("Every day, each phone number has free votes here. Prove your number with the code we text "
                        "you, then choose your candidate."),
    "free_lead_round": N_("Each phone number has free votes this round. Prove your number with the code we text "
                          "you, then choose your candidate."),
    "free_none": N_("This contest gives no free vote now."),
    "free_needs_js": N_("The free vote needs JavaScript: turn it on, or vote by USSD or SMS."),
    "free_step_candidate": N_("2. Your candidate"),
    "free_submit": N_("Cast my free vote"),
    "free_done": N_("Your free vote for {name} is counted. Free votes left: {left}."),
    "free_link": N_("Vote for free: each phone number has free votes"),
    "err_free_vote_used": N_("This number has taken its free votes; come back later or vote by mobile money."),
    "err_no_free_votes": N_("This contest gives no free vote now."),
}

# The free vote API's error codes (gateway.core.orders.free_votes) and the text each is told by.
FREE_VOTE_ERRORS: dict[str, str] = PROOF_ERRORS | {
    "free_vote_used": "err_free_vote_used", "no_free_votes": "err_no_free_votes",
    "address_blocked": "err_address_blocked", "rate_limited:msisdn": "err_msisdn_rate_limited",
    "contest_not_open": "err_contest_not_open", "contest_closed": "err_contest_closed",
    "candidate_not_found": "err_candidate", "candidate_not_active": "err_candidate_not_active",
}
