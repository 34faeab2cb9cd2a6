"""The candidate pages' texts (the `web` domain, as every public page's): a candidate's clip, how to vote for
them, sharing them; and the contest page's share card."""

from __future__ import annotations

from gateway.core.texts import N_

CANDIDATE_TEXTS: dict[str, str] = {
    "candidate_not_found": N_("This candidate is not in this contest, or is no longer shown."),
    "cand_back": N_("All candidates of {contest}"),
    "cand_code": N_("Code {code}"),
    "cand_clip_label": N_("Clip of {name}"),
    "cand_clip_download": N_("Your browser cannot play this clip here: download it (MP4)."),
    "cand_watch_hd": N_("Watch in HD (720p)"),
    "cand_watch_sd": N_("Watch in standard quality (360p, less data)"),
    "cand_photo_alt": N_("Photo of {name}"),
    "cand_how_title": N_("How to vote"),
    "cand_how_web": N_("On this page: choose the number of votes below and pay"),
    "cand_share_heading": N_("Share"),
    "cand_short_link": N_("Short link to this page"),
    "cand_share_whatsapp": N_("Share on WhatsApp"),
    "cand_share_facebook": N_("Share on Facebook"),
    # Translators: the message a WhatsApp share starts with; the short link follows it.
    "cand_share_text": N_("Vote for {name} in {contest}:"),
    # Translators: a shared candidate page's title in chat apps and social networks.
    "cand_share_title": N_("{name} · {contest}"),
    "cand_share_description": N_("Vote for {name} in {contest}."),
    # Translators: a candidate's card on the contest page: a tap starts a vote for them (number of votes, payment).
    "card_vote": N_("Vote"),
    # Translators: under a candidate's card on the contest page: their own page (clip, how to vote by phone).
    "card_page": N_("Their page"),
    # Translators: the vote form started from a candidate's card: back to the list of every candidate.
    "choose_another": N_("Choose another candidate"),
    "contest_share_description": N_("Vote for your favourite in {contest}: {price} per vote."),
}
