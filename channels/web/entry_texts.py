"""The entry pages' texts (the `web` domain, as every public page's): a candidate enters from a phone."""

from __future__ import annotations

from gateway.core.texts import N_

ENTRY_TEXTS: dict[str, str] = {
    "enter_title": N_("Enter {contest}"),
    "enter_dates": N_("Entries are open until {date}."),
    "enter_closed": N_("Entries are not open for this contest."),
    "enter_full": N_("This contest has all the entries it takes."),
    "enter_rules": N_("The rules"),
    "enter_needs_js": N_("Entering sends your clip in small parts, so a dropped connection loses nothing: "
                         "it needs JavaScript. Turn it on, or use your phone's own browser."),
    "enter_step_phone": N_("1. Your phone number"),
    "enter_phone_hint": N_("We text you a code to prove it is yours; it is how the organiser reaches you."),
    "enter_send_code": N_("Text me a code"),
    "enter_code": N_("The code we texted you"),
    "enter_check_code": N_("Check the code"),
    "enter_step_entry": N_("2. Your entry"),
    "enter_name": N_("Your name (as viewers will see it)"),
    "enter_bio": N_("A few words about you"),
    "enter_photo": N_("Your photo (optional; JPEG, PNG or WebP, at most 5 MB)"),
    "enter_clip": N_("Your clip (at most 60 seconds and 50 MB)"),
    "enter_accept": N_("I accept the rules of the contest"),
    "enter_submit": N_("Send my entry"),
    "enter_uploading": N_("Sending your clip: {percent}%"),
    "enter_retrying": N_("Connection lost; trying again…"),
    "enter_sent": N_("Your entry is sent. Keep this page's address to follow it."),
    "entry_title": N_("Your entry to {contest}"),
    "entry_pending": N_("Your entry waits for the organiser's decision."),
    "entry_approved": N_("Your entry is approved: you are candidate {code}."),
    "entry_rejected": N_("Your entry was not accepted: {reason}"),
    "entry_see_page": N_("See your candidate page"),
    "clip_processing": N_("Your clip is being prepared; this page refreshes itself."),
    "clip_refused": N_("Your clip cannot enter: {reason}"),
    "clip_ready": N_("Your clip is ready."),
    "entry_replace": N_("Replace my clip"),
    "entry_keep_link": N_("Keep this page's address: it is the only way back to your entry."),
}
